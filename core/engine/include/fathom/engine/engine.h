// The generation engine: many requests at once over one LoadedModel (continuous batching).
//
// Each step() admits waiting requests into free KV-cache slots and prefills their prompts
// (naive MLA), then advances every running sequence by one token in a single batched decode
// (absorbed MLA). Requests join and leave between steps. A request that cannot fit
// (prompt + max_new_tokens > max_seq_len) is refused at submit() with a clear error; when all
// slots are busy it waits, and when the wait queue is full submit() says so.
//
// Threads: submit() and cancel() may be called from any thread; step() from one thread only
// (the engine loop). Events are delivered on the step() thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fathom/engine/loaded_model.h"
#include "fathom/engine/sampler.h"

namespace fathom::tokenizer {
class Tokenizer;
}

namespace fathom::engine {

using RequestId = uint64_t;

enum class FinishReason { none, stop, length, cancelled, error };
const char* finish_reason_name(FinishReason r);  // "stop", "length", ...

struct GenerationRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_new_tokens = 256;
  std::vector<int32_t> stop_token_ids;    // besides the model's EOS
  std::vector<std::string> stop_strings;  // generation ends before the first occurrence
  bool ignore_eos = false;
};

// One event per generated token; the last event of a request has `finished` set (and may carry
// no token, e.g. when cancelled or when a stop string ended it).
struct TokenEvent {
  RequestId request = 0;
  std::optional<int32_t> token;
  std::string text;  // complete UTF-8 characters released by this token (stop strings held back)
  bool finished = false;
  FinishReason reason = FinishReason::none;
  std::string error;  // for FinishReason::error
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

using EventCallback = std::function<void(const TokenEvent&)>;

struct EngineLimits {
  int64_t max_batch = 8;    // sequences running at once (cache slots)
  int64_t max_seq_len = 4096;
  int64_t max_queue = 64;   // requests waiting for a slot
};

class Engine {
 public:
  // `tok` (optional) turns tokens into text and enables stop strings; without it events carry
  // no text. EOS ids come from config.json and the tokenizer.
  Engine(LoadedModel& model, const tokenizer::Tokenizer* tok, EngineLimits limits);
  ~Engine();

  // Throws out_of_range (does not fit), resource_exhausted (queue full), invalid_argument.
  RequestId submit(GenerationRequest request, EventCallback on_event);
  // The request ends with FinishReason::cancelled at the next step; its slot is freed.
  void cancel(RequestId id);
  // One scheduling step. Returns false when there was nothing to do.
  bool step();

  size_t running() const;
  size_t waiting() const;
  const EngineLimits& limits() const { return limits_; }

 private:
  struct Sequence;
  void apply_cancellations();
  void admit_waiting();
  void prefill(std::vector<Sequence*>& fresh);
  void decode(const std::vector<Sequence*>& sequences);
  // Samples the next token from `logits` and emits it; finishes the sequence when done.
  void advance(Sequence& s, std::span<const float> logits);
  void finish(Sequence& s, FinishReason reason, const std::string& error = {});
  void release_finished();

  LoadedModel& model_;
  const tokenizer::Tokenizer* tok_;
  EngineLimits limits_;
  std::vector<int32_t> eos_ids_;

  mutable std::mutex mutex_;  // guards waiting_, cancelled_, next_id_
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<RequestId> cancelled_;
  RequestId next_id_ = 1;

  std::vector<std::unique_ptr<Sequence>> running_;  // step() thread only
  std::vector<bool> slot_busy_;
};

}  // namespace fathom::engine
