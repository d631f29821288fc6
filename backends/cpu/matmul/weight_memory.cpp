#include "matmul/weight_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>
#include <string>

#include "cpu_context.h"
#include "parallel.h"

namespace fathom::cpu {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kChunk = size_t{1} << 30;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// `length` (a multiple of 2 MiB) of anonymous memory starting on a 2 MiB boundary, as one mapping
// (the slack that aligning needs is unmapped again), advised for huge pages; unmapped when the
// last owner lets go.
std::shared_ptr<void> map_chunk(size_t length) {
  // NORESERVE: a chunk is mostly untouched address space until matrices are copied into it.
  void* raw = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = round_up(start, kHugePage);
  if (aligned > start) ::munmap(raw, aligned - start);
  const uintptr_t end = aligned + length, raw_end = start + length + kHugePage;
  if (raw_end > end) ::munmap(reinterpret_cast<void*>(end), raw_end - end);
  void* data = reinterpret_cast<void*>(aligned);
  ::madvise(data, length, MADV_HUGEPAGE);  // advice only: failing (THP compiled out) is harmless
  return std::shared_ptr<void>(data, [length](void* p) { ::munmap(p, length); });
}

// Fills in the page tables of the pages holding [p, p + bytes) (for writing, or reading only)
// without touching their contents. Advice only: a kernel without MADV_POPULATE_* refuses it,
// and the copy then faults the pages in as it goes.
void populate(const void* p, size_t bytes, bool write) {
#if defined(MADV_POPULATE_READ) && defined(MADV_POPULATE_WRITE)
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const uintptr_t last = round_up(reinterpret_cast<uintptr_t>(p) + bytes, page);
  ::madvise(reinterpret_cast<void*>(first), last - first, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
#else
  (void)p, (void)bytes, (void)write;
#endif
}

// Whether [lo, hi) lies inside one read-only private file mapping of this process. Read from
// /proc/self/maps each time, never remembered: a range that was a file mapping once may be
// anonymous memory by now, and releasing that would zero it.
bool in_read_only_private_file_mapping(uintptr_t lo, uintptr_t hi) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    // "start-end perms offset dev inode path"
    std::istringstream in(line);
    std::string range, perms, offset, dev;
    uint64_t inode = 0;
    if (!(in >> range >> perms >> offset >> dev >> inode)) continue;
    const size_t dash = range.find('-');
    if (dash == std::string::npos) continue;
    const uintptr_t start = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (lo < start || lo >= end) continue;
    return hi <= end && inode != 0 && perms.size() == 4 && perms[1] == '-' && perms[3] == 'p';
  }
  return false;
}

}  // namespace

WeightArena::Block WeightArena::allocate(size_t bytes) {
  const size_t size = round_up(std::max<size_t>(bytes, 1), 64);
  std::lock_guard<std::mutex> lock(mutex_);
  if (size > left_) {
    // A matrix larger than a chunk gets a chunk of its own; the current one stays current.
    if (size > kChunk / 2) {
      const size_t length = round_up(size, kHugePage);
      std::shared_ptr<void> own = map_chunk(length);
      return Block{own, own.get(), bytes};
    }
    chunk_ = map_chunk(kChunk);
    next_ = static_cast<std::byte*>(chunk_.get());
    left_ = kChunk;
  }
  Block b{chunk_, next_, bytes};
  next_ += size;
  left_ -= size;
  return b;
}

WeightArena::Block copy_to_arena(CpuContext& ctx, const void* src, size_t bytes) {
  WeightArena::Block block = ctx.arena.allocate(bytes);
  const auto* from = static_cast<const std::byte*>(src);
  auto* to = static_cast<std::byte*>(block.data);
  // A large matrix copies faster on every core. Each part first has its page tables filled in
  // one call per side (MADV_POPULATE_READ/WRITE, Linux 5.14; ignored where unknown): faulting
  // page by page instead made the load 2-5x slower and erratic on the development VM (a 4.7 GB
  // copy: 1.8-2.0 s populated, 2.5-10 s faulted).
  const int t = threads_for(ctx.threads(), static_cast<double>(bytes), 4.0 * (1 << 20));
  parallel_ranges(static_cast<int64_t>(bytes), t, 4096, [&](int64_t b, int64_t e) {
    populate(from + b, static_cast<size_t>(e - b), false);
    populate(to + b, static_cast<size_t>(e - b), true);
    std::memcpy(to + b, from + b, static_cast<size_t>(e - b));
  });
  release_file_pages(src, bytes);
  return block;
}

size_t release_file_pages(const void* p, size_t bytes) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t first = (begin + page - 1) & ~(page - 1);  // whole pages only: the
  const uintptr_t last = (begin + bytes) & ~(page - 1);      // neighbours' bytes stay mapped
  if (bytes == 0 || last <= first) return 0;
  if (!in_read_only_private_file_mapping(first, last)) return 0;
  if (::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) != 0) return 0;
  return last - first;
}

}  // namespace fathom::cpu
