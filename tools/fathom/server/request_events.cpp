#include "server/request_events.h"

namespace fathom::server {

void RequestEvents::push(engine::TokenEvent event) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(event));
  }
  arrived_.notify_one();
}

bool RequestEvents::wait_for(std::vector<engine::TokenEvent>& out, std::chrono::milliseconds timeout) {
  out.clear();
  std::unique_lock lock(mutex_);
  if (!arrived_.wait_for(lock, timeout, [this] { return !pending_.empty(); })) return false;
  out.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.end()));
  pending_.clear();
  return true;
}

}  // namespace fathom::server
