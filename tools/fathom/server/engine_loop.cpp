#include "server/engine_loop.h"

#include <algorithm>
#include <chrono>

#include "fathom/core/error.h"
#include "fathom/core/logging.h"

namespace fathom::server {

EngineLoop::EngineLoop(engine::Engine& engine) : engine_(engine), thread_([this] { run(); }) {}

EngineLoop::~EngineLoop() { stop(); }

EngineLoop::Submitted EngineLoop::submit(engine::GenerationRequest request, std::shared_ptr<RequestEvents> events) {
  if (unavailable()) throw Error(ErrorCode::unavailable, "the server is shutting down");
  Submitted s;
  s.events = events ? std::move(events) : std::make_shared<RequestEvents>();
  // The callback runs on the engine thread and owns a reference to the queue, so a client that
  // is gone (its HTTP thread done) leaves events to a queue nobody reads, never to freed memory.
  ++in_flight_;  // before the engine can admit (and finish) it
  try {
    s.id = engine_.submit(std::move(request), [this, events = s.events, submitted = std::chrono::steady_clock::now(),
                                               first = true](const engine::TokenEvent& e) mutable {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count();
      if (e.token) {
        ++generated_tokens_;
        if (first) time_to_first_token_.observe(seconds);
        first = false;
      }
      if (e.finished) {
        count_finished(e.reason);
        if (e.reason == engine::FinishReason::stop || e.reason == engine::FinishReason::length) request_duration_.observe(seconds);
      }
      events->push(e);
    });
  } catch (...) {
    --in_flight_;
    throw;
  }
  wake();
  return s;
}

void EngineLoop::cancel(engine::RequestId id) {
  engine_.cancel(id);
  wake();
}

EngineStats EngineLoop::stats() const {
  EngineStats s;
  // In this order: a request admitted between the two reads counts as running, never as neither.
  const int64_t in_flight = in_flight_.load();
  s.waiting = engine_.waiting();
  s.running = static_cast<size_t>(std::max<int64_t>(in_flight - static_cast<int64_t>(s.waiting), 0));
  s.completed = completed_.load();
  s.cancelled = cancelled_.load();
  s.failed = failed_.load();
  s.generated_tokens = generated_tokens_.load();
  s.speculation = engine_.speculation();
  s.drafts = engine_.speculation_stats();
  s.prompts = engine_.prompt_stats();
  s.grammars = engine_.grammar_stats();
  return s;
}

void EngineLoop::stop() {
  stopping_ = true;
  wake();
  if (thread_.joinable()) thread_.join();
}

void EngineLoop::wake() {
  {
    std::lock_guard lock(mutex_);
    work_pending_ = true;
  }
  wake_.notify_one();
}

void EngineLoop::count_finished(engine::FinishReason reason) {
  --in_flight_;
  switch (reason) {
    case engine::FinishReason::cancelled: ++cancelled_; break;
    case engine::FinishReason::error: ++failed_; break;
    default: ++completed_; break;
  }
}

void EngineLoop::run() {
  while (!stopping_) {
    bool did_work = false;
    try {
      did_work = engine_.step();
    } catch (const std::exception& e) {
      // Engine::step() turns fathom::Error into per-request errors itself; anything else means
      // its state is unknown. Stop stepping; waiting HTTP threads see unavailable() and answer 500.
      log().error("engine thread stopped: {}", e.what());
      broken_ = true;
      return;
    }
    if (did_work) continue;
    // Idle: sleep until a submit, a cancel or stop() sets work_pending_ (set under the mutex, so
    // a wake between step() and this wait is not lost).
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return work_pending_ || stopping_; });
    work_pending_ = false;
  }
}

}  // namespace fathom::server
