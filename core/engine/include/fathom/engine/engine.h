// The generation engine: many requests at once over one LoadedModel (continuous batching).
//
// Each step() admits waiting requests into free KV-cache slots and prefills their prompts
// (naive MLA; long prompts a chunk per step), then advances every running sequence by one token in
// a single batched decode (absorbed MLA). Requests join and leave between steps. A request that cannot fit
// (prompt + max_new_tokens > max_seq_len) is refused at submit() with a clear error; when all
// slots are busy it waits, and when the wait queue is full submit() says so.
//
// Speculative decoding (Speculation::mtp, ::ngram): each sequence's next tokens are drafted — by
// the MTP head, or from an earlier occurrence of its last tokens — and the decode step runs the
// last token and the drafts together. The first token is sampled from the main model's logits as
// always; when it equals the first draft, the next row's logits (computed with the draft in
// context, which is now the real token) give another token in the same step, and so on while
// the drafts hold. Sampling first and comparing after keeps the output exactly the main model's,
// greedy or sampled, seed for seed: a draft only saves steps, it never picks a token.
//
// Threads: submit() and cancel() may be called from any thread; step() from one thread only
// (the engine loop). Events are delivered on the step() thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fathom/engine/grammar_token_filter.h"
#include "fathom/engine/json_token_filter.h"
#include "fathom/engine/loaded_model.h"
#include "fathom/engine/logprobs.h"
#include "fathom/engine/sampler.h"
#include "fathom/engine/slot_cache.h"

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
  // EOS and stop_token_ids are not sampled (their logits are −∞) before this many tokens exist;
  // stop strings still end generation (vLLM's min_tokens). At most max_new_tokens.
  int64_t min_tokens = 0;
  // Set: every token event carries the token's log-probability and this many most likely
  // alternatives (see logprobs.h). Unset: none are computed (they cost a pass over the vocabulary).
  std::optional<int64_t> logprobs;
  // Set: the request's first event carries the log-probability of every prompt token after the
  // first (the prompt scored by the model, as lm-eval's loglikelihood needs), with this many
  // alternatives each. The prompt is then prefilled whole, without prefix caching. With it,
  // max_new_tokens may be 0: the request ends after the prefill, reason length, with no token.
  std::optional<int64_t> prompt_logprobs;
  // JSON mode (OpenAI's response_format json_object): every token is one that keeps the output a
  // prefix of a JSON object, and end-of-sequence comes once the object is complete (json_prefix.h).
  // Needs the tokenizer; not with min_tokens (end-of-sequence is the only token after the object).
  bool json_object = false;
  // Structured output (response_format json_schema): every token keeps the output a prefix of a
  // sentence of this grammar (json_schema_grammar.h), and end-of-sequence comes only once it is
  // a whole one. Needs the tokenizer; not with json_object or min_tokens.
  std::shared_ptr<const Grammar> grammar;
  // Set with json_object or grammar: the constraint starts only after the output contains this
  // text (a reasoning model's "</think>"), so that the reasoning before it is the model's own;
  // whitespace right after it is left free too. A reply that never writes it is unconstrained.
  std::string structured_after;
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
  std::optional<TokenLogprobs> logprobs;  // with `token`, when the request asked for them
  std::vector<TokenLogprobs> prompt_logprobs;  // on the first event, with prompt_logprobs: prompt[1..]
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens whose cache entries were reused, not prefilled
};

using EventCallback = std::function<void(const TokenEvent&)>;

// mtp: up to EngineLimits::speculative_tokens drafts per step from the checkpoint's MTP module,
// chained (spec §3.6). ngram: up to that many from the latest earlier occurrence of the
// sequence's last tokens (prompt lookup), for any model.
enum class Speculation { off, mtp, ngram };
const char* speculation_name(Speculation s);  // "off", "mtp", "ngram": the config's words

struct SpeculationStats {
  uint64_t drafted = 0;   // draft tokens verified
  uint64_t accepted = 0;  // of those, equal to the token sampled
  uint64_t steps = 0;     // decode steps run
  // The same per place in a step's drafts (the first draft, the second, ...), up to the last
  // place drafted: how acceptance falls off with depth, to choose speculative_tokens by.
  std::vector<uint64_t> drafted_at, accepted_at;
};

// Waiting for another sequence's prefill costs the waiting request at least a step; it pays when
// it saves prefilling this many tokens or more.
inline constexpr size_t kMinSharedPrefill = 32;

struct EngineLimits {
  int64_t max_batch = 8;    // sequences running at once (cache slots)
  int64_t max_seq_len = 4096;
  int64_t max_queue = 64;   // requests waiting for a slot
  // With speculation: once more sequences than this run at once, drafting stops for every
  // sequence then running (a sequence cannot resume: the MTP module's cache would miss the steps
  // without drafts); sequences admitted later, while no more than this run, draft. 0 = no limit.
  int64_t speculative_max_batch = 0;
  // Draft tokens per step, at most. ngram: up to this many follow the earlier occurrence. mtp:
  // the module drafts one, then feeds its own hidden state and draft back in for each further one.
  // 0 = the method's default: 3 for ngram (a lookup costs nothing), 1 for mtp (each further draft
  // costs a pass through the MTP layer and its head, and is accepted less often).
  int64_t speculative_tokens = 0;
  // Prompt tokens prefilled per step, over all sequences (0 = every admitted prompt whole). A long
  // prompt then takes several steps, and the sequences already running decode a token in each:
  // their time between tokens stays bounded by one chunk's prefill instead of the whole prompt's.
  int64_t prefill_chunk = 512;
  // A new request goes to the free slot whose cache holds the longest prefix of its prompt (what
  // the slot's last sequence left there), and only the rest is prefilled: a chat's next turn
  // prefills the new message, not the whole conversation. A prefix a running sequence has
  // written is copied from its slot; a request that shares at least kMinSharedPrefill more
  // tokens with a prompt still being prefilled waits for that prefill and then copies.
  bool prefix_caching = true;
};

class Engine {
 public:
  // `tok` (optional) turns tokens into text and enables stop strings; without it events carry
  // no text. EOS ids come from config.json and the tokenizer.
  // Speculation::mtp needs the model loaded with its MTP module (ModelOptions::load_mtp); throws
  // failed_precondition otherwise.
  Engine(LoadedModel& model, const tokenizer::Tokenizer* tok, EngineLimits limits,
         Speculation speculation = Speculation::off);
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
  Speculation speculation() const { return speculation_; }
  SpeculationStats speculation_stats() const;  // any thread
  // Prompt tokens admitted so far, and of those the ones reused from a slot's cache (any thread).
  struct PromptStats {
    uint64_t prompt_tokens = 0;
    uint64_t cached_tokens = 0;
  };
  PromptStats prompt_stats() const { return {prompt_tokens_.load(), cached_tokens_.load()}; }
  // Structured output: grammar filters built, and sequences that found theirs built — the other
  // choices of a request, later requests with an equal schema (any thread).
  struct GrammarStats {
    uint64_t built = 0;
    uint64_t reused = 0;
  };
  GrammarStats grammar_stats() const { return {grammars_built_.load(), grammars_reused_.load()}; }

 private:
  struct Sequence;
  void apply_cancellations();
  void admit_waiting();
  bool should_wait_for_shared_prefill(const Sequence& s, std::span<const SlotCache::Busy> busy) const;
  void prefill();
  void decode(const std::vector<Sequence*>& sequences);
  // MTP drafts for the sequences of `rows` from their MTP rows (hidden row, next token, position,
  // slot): the last row of each sequence gives its first draft, and further passes of one row per
  // sequence the rest, up to draft_depth.
  struct DraftRows;
  void draft(DraftRows rows, AttentionForm form);
  size_t draft_depth(const Sequence& s) const;  // drafts `s` may take this step
  bool wants_draft(const Sequence& s) const;
  void stop_drafting_if_crowded();
  // Speculation::ngram: the next drafts of `s` from its own tokens.
  void propose_ngram_drafts(Sequence& s) const;
  // Samples the next token from `logits` and emits it; finishes the sequence when done.
  void advance(Sequence& s, std::span<const float> logits);
  void finish(Sequence& s, FinishReason reason, const std::string& error = {});
  void release_finished();

  LoadedModel& model_;
  const tokenizer::Tokenizer* tok_;
  EngineLimits limits_;
  Speculation speculation_;
  // Counted on the step() thread, read from any (a server's health endpoint).
  std::atomic<uint64_t> drafted_{0}, accepted_{0}, steps_{0};
  static constexpr size_t kMaxDraftPlaces = 16;  // speculative_tokens' limit
  std::array<std::atomic<uint64_t>, kMaxDraftPlaces> drafted_at_{}, accepted_at_{};
  std::atomic<uint64_t> prompt_tokens_{0}, cached_tokens_{0};
  std::vector<int32_t> eos_ids_;
  // Structured output, built at the first request that needs it (step() thread only).
  std::shared_ptr<const TokenTable> token_table_;
  std::unique_ptr<JsonTokenFilter> json_filter_;
  // The filters of the grammars used last, most recent first, by Grammar::key() (or address):
  // the sequences of one grammar share one, and so do later requests with an equal schema, which
  // then find its automaton and masks already built.
  std::vector<std::pair<std::string, std::shared_ptr<GrammarTokenFilter>>> grammar_filters_;
  std::atomic<uint64_t> grammars_built_{0}, grammars_reused_{0};
  const TokenTable& token_table(size_t vocab);
  std::shared_ptr<GrammarTokenFilter> grammar_filter(const std::shared_ptr<const Grammar>& grammar, size_t vocab);
  // Structured output's mask on the row `s` samples from; false when nothing may follow.
  bool mask_structured(Sequence& s, std::span<const float> logits);
  // Sequences whose structured output starts after a marker (structured_after): looks for it in
  // the output so far and, once there, starts the constraint. False when the sequence ended.
  bool watch_for_structured_start(Sequence& s, int32_t token, size_t vocab);

  mutable std::mutex mutex_;  // guards waiting_, cancelled_, next_id_
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<RequestId> cancelled_;
  RequestId next_id_ = 1;

  std::vector<std::unique_ptr<Sequence>> running_;  // step() thread only
  SlotCache slots_;  // step() thread only
};

}  // namespace fathom::engine
