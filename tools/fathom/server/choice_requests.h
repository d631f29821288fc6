// The engine requests behind one response, one per choice (the request's `n` for each of its
// prompts), sharing one event queue, so that the answering thread waits on one queue for all of
// them. Every choice not finished when this goes (an exception, shutdown, the client gone) is
// cancelled.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fathom/engine/engine.h"
#include "server/engine_loop.h"
#include "server/request_events.h"

namespace fathom::server {

class ChoiceRequests {
 public:
  // Submits n choices per prompt: choice p·n + i is the i-th of `prompts[p]`. With a seed, the
  // i-th samples with seed + i: the response is reproducible, a prompt's choices differ, and each
  // prompt gets what it would get alone. If a submit fails, the choices before it are cancelled
  // and the error propagates.
  ChoiceRequests(EngineLoop& loop, const std::vector<engine::GenerationRequest>& prompts, int64_t n);
  ~ChoiceRequests();
  ChoiceRequests(const ChoiceRequests&) = delete;
  ChoiceRequests& operator=(const ChoiceRequests&) = delete;

  size_t size() const { return ids_.size(); }
  size_t index_of(engine::RequestId id) const;  // of the choice an event belongs to
  size_t prompt_of(size_t index) const { return index / n_; }
  bool first_of_its_prompt(size_t index) const { return index % n_ == 0; }
  void finished(size_t index) { finished_[index] = true; }  // it needs no cancelling
  bool all_finished() const;
  RequestEvents& events() { return *events_; }

 private:
  void cancel_unfinished();

  EngineLoop& loop_;
  std::shared_ptr<RequestEvents> events_;
  std::vector<engine::RequestId> ids_;
  std::vector<bool> finished_;
  size_t n_;  // choices per prompt
};

}  // namespace fathom::server
