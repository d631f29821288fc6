// Where the weights that the kernels read in their stored format live (option `weight_memory`).
//
// Streaming a matrix out of the checkpoint's file mapping measured ~25 % slower than streaming the
// same bytes from anonymous memory on the development machine (lm_head at M = 1: 14 against
// 18.5 GB/s; docs/performance.md, "Weight memory"), and 2 MiB pages gained another ~5 %. So by
// default (`weight_memory = "copy"`) each matrix the GEMV or the tiles read in place is copied
// once at compile into anonymous memory advised for transparent huge pages, and the file pages
// the copy touched are unmapped again: resident memory stays about one copy of the model, and
// the file stays in the page cache for the next start.
#pragma once

#include <cstddef>
#include <memory>

namespace fathom::cpu {

// `bytes` of anonymous memory, 2 MiB aligned and advised for huge pages (MADV_HUGEPAGE; the
// kernel may still give 4 KiB pages, e.g. with transparent huge pages off).
class HugePageBuffer {
 public:
  explicit HugePageBuffer(size_t bytes);
  ~HugePageBuffer();
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

struct CpuContext;

// Copies `bytes` from `src` (on the backend's threads) into a new HugePageBuffer, then releases
// the source's file pages (release_file_pages).
std::unique_ptr<HugePageBuffer> copy_to_huge_pages(const CpuContext& ctx, const void* src, size_t bytes);

// Unmaps this process's pages wholly inside [p, p + bytes) when they belong to a read-only
// private file mapping: nothing can have written them, so a later read faults the same bytes in
// again from the file. Memory of any other kind (anonymous, writable, shared) is left alone —
// for anonymous memory MADV_DONTNEED would mean zeros. Returns the bytes released.
size_t release_file_pages(const void* p, size_t bytes);

}  // namespace fathom::cpu
