// Where the weights that the kernels read in their stored format live (option `weight_memory`).
//
// Streaming a matrix out of the checkpoint's file mapping measured ~25 % slower than streaming the
// same bytes from anonymous memory on the development machine (lm_head at M = 1: 14 against
// 18.5 GB/s; docs/performance.md), and 2 MiB pages gained another ~5 %. So by default
// (`weight_memory = "copy"`) each matrix the GEMV or the tiles read in place is copied once at
// compile into a WeightArena, and the file pages the copy touched are unmapped again: resident
// memory stays about one copy of the model, and the file stays in the page cache for the next
// start.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>

namespace fathom::cpu {

// Memory for copied matrices: chunks of at least 1 GiB of anonymous memory, 2 MiB aligned and
// advised for huge pages (MADV_HUGEPAGE; the kernel may still give 4 KiB pages, e.g. with
// transparent huge pages off), handed out in order. Few large mappings rather than one per
// matrix: a process may hold at most vm.max_map_count (~65k) mappings, and a V3 checkpoint has
// ~45k matrices. A chunk goes back to the system when the last block in it is gone.
class WeightArena {
 public:
  // `bytes` (64-byte aligned); the block keeps its chunk alive.
  struct Block {
    std::shared_ptr<void> chunk;
    void* data = nullptr;
    size_t size = 0;
  };
  Block allocate(size_t bytes);

 private:
  std::mutex mutex_;
  std::shared_ptr<void> chunk_;
  std::byte* next_ = nullptr;
  size_t left_ = 0;
};

struct CpuContext;

// Copies `bytes` from `src` (on the backend's threads) into a block of the context's arena, then
// releases the source's file pages (release_file_pages).
WeightArena::Block copy_to_arena(CpuContext& ctx, const void* src, size_t bytes);

// Unmaps this process's pages wholly inside [p, p + bytes) when they belong to a read-only
// private file mapping: nothing can have written them, so a later read faults the same bytes in
// again from the file. Memory of any other kind (anonymous, writable, shared) is left alone —
// for anonymous memory MADV_DONTNEED would mean zeros. Returns the bytes released.
size_t release_file_pages(const void* p, size_t bytes);

}  // namespace fathom::cpu
