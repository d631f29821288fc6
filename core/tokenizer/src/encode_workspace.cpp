#include "fathom/tokenizer/encode_workspace.h"

namespace fathom::tokenizer {

namespace {

// Buffers above this many elements are dropped after a call (a few MiB at most is kept).
constexpr std::size_t kKeptElements = std::size_t{1} << 16;

template <class T>
void release_if_oversized(std::vector<T>& buffer) {
  if (buffer.capacity() > kKeptElements) std::vector<T>().swap(buffer);
}

}  // namespace

void EncodeWorkspace::release_oversized_buffers() {
  release_if_oversized(segments);
  release_if_oversized(pieces);
  release_if_oversized(bpe.symbols);
  release_if_oversized(bpe.pair_ranks);
  release_if_oversized(bpe.pair_merged);
  release_if_oversized(bpe.next);
  release_if_oversized(bpe.prev);
  release_if_oversized(bpe.heap);
}

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
