// The engine thread. Engine::step() must run on one thread only; this class owns that thread,
// which steps while there is work and sleeps on a condition variable when there is none.
// HTTP threads submit requests and cancel them from anywhere; each request's events reach its
// HTTP thread through a RequestEvents queue.
//
// Batching comes from the engine: every request submitted while others run joins the running
// batch at the next step (continuous batching).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "fathom/engine/engine.h"
#include "server/latency_histogram.h"
#include "server/request_events.h"

namespace fathom::server {

struct EngineStats {
  size_t running = 0;  // admitted to the batch (prefilling or decoding), not yet finished
  size_t waiting = 0;  // submitted, waiting for a batch slot
  uint64_t completed = 0;  // finished with stop or length
  uint64_t cancelled = 0;  // ended by cancel(): client gone, server stopping
  uint64_t failed = 0;     // ended by an engine error
  uint64_t generated_tokens = 0;  // tokens sampled, over all requests
  engine::Speculation speculation = engine::Speculation::off;
  engine::SpeculationStats drafts;  // with speculation on
  engine::Engine::PromptStats prompts;  // admitted prompt tokens, and those reused from the cache
  engine::Engine::GrammarStats grammars;  // structured output's automata built and reused
};

class EngineLoop {
 public:
  explicit EngineLoop(engine::Engine& engine);
  ~EngineLoop();  // stop()s
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  struct Submitted {
    engine::RequestId id = 0;
    std::shared_ptr<RequestEvents> events;
  };
  // Throws what Engine::submit throws (out_of_range, resource_exhausted, invalid_argument), and
  // unavailable once the loop is stopping or broken. The events go to `events` when given (the
  // choices of one response share a queue), else to a new queue.
  Submitted submit(engine::GenerationRequest request, std::shared_ptr<RequestEvents> events = nullptr);
  // The request ends with FinishReason::cancelled at the next step and its slot is freed.
  // Unknown or finished ids are ignored.
  void cancel(engine::RequestId id);

  EngineStats stats() const;
  // From submit to the first token, and to the end, of the requests that ended with stop or length.
  const LatencyHistogram& time_to_first_token() const { return time_to_first_token_; }
  const LatencyHistogram& request_duration() const { return request_duration_; }
  // Set once stop() began or the engine thread died; requests still waiting should give up.
  bool unavailable() const { return stopping_.load() || broken_.load(); }

  // Ends the thread (after the step in progress). Requests still queued get no more events.
  void stop();

 private:
  void run();
  void wake();
  void count_finished(engine::FinishReason reason);

  engine::Engine& engine_;
  std::mutex mutex_;  // guards work_pending_; a leaf lock (never held while calling the engine)
  std::condition_variable wake_;
  bool work_pending_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> broken_{false};
  // Submitted and not yet finished. Engine::running() may only be read on the engine thread and
  // lags a step behind; this count is exact at any moment, so "running" is this minus waiting.
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> completed_{0}, cancelled_{0}, failed_{0}, generated_tokens_{0};
  LatencyHistogram time_to_first_token_, request_duration_;
  std::thread thread_;
};

}  // namespace fathom::server
