#include "server/response_store.h"

#include <algorithm>

namespace fathom::server {

void ResponseStore::put(const std::string& id, Entry entry) {
  const std::lock_guard lock(mutex_);
  if (capacity_ == 0) return;
  if (entries_.insert_or_assign(id, std::move(entry)).second) order_.push_back(id);
  while (entries_.size() > capacity_ && !order_.empty()) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
}

std::optional<ResponseStore::Entry> ResponseStore::get(const std::string& id) const {
  const std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

bool ResponseStore::erase(const std::string& id) {
  const std::lock_guard lock(mutex_);
  if (entries_.erase(id) == 0) return false;
  order_.erase(std::find(order_.begin(), order_.end(), id));  // at most kCapacity ids to look through
  return true;
}

size_t ResponseStore::size() const {
  const std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace fathom::server
