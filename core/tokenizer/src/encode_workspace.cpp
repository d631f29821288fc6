#include "fathom/tokenizer/encode_workspace.h"

namespace fathom::tokenizer {

WorkspacePool::Lease WorkspacePool::acquire() {
  for (Slot& slot : slots_) {
    std::unique_lock<std::mutex> lock(slot.mutex, std::try_to_lock);
    if (!lock.owns_lock()) continue;
    if (!slot.workspace) slot.workspace = std::make_unique<EncodeWorkspace>();
    return Lease(std::move(lock), slot.workspace.get());
  }
  return Lease(std::make_unique<EncodeWorkspace>());
}

void WorkspacePool::clear_word_caches() {
  for (Slot& slot : slots_) {
    const std::lock_guard<std::mutex> lock(slot.mutex);
    if (slot.workspace) slot.workspace->cache.clear();
  }
}

}  // namespace fathom::tokenizer
