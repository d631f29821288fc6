// The events of one generation request, handed from the engine thread (which produces them in
// Engine::step) to the HTTP thread that answers the request. Thread-safe; the engine side only
// pushes, so it never waits on a slow client.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "fathom/engine/engine.h"

namespace fathom::server {

class RequestEvents {
 public:
  void push(engine::TokenEvent event);
  // Moves every pending event into `out` (cleared first), waiting up to `timeout` for one to
  // arrive. Returns false when none came in time.
  bool wait_for(std::vector<engine::TokenEvent>& out, std::chrono::milliseconds timeout);

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<engine::TokenEvent> pending_;
};

}  // namespace fathom::server
