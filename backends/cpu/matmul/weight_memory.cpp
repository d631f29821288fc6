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

// The /proc/self/maps entry holding `address`: whether it maps a file read-only and private.
bool in_read_only_private_file_mapping(uintptr_t address, uintptr_t end) {
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
    const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (address < lo || address >= hi) continue;
    return end <= hi && inode != 0 && perms.size() == 4 && perms[1] == '-' && perms[3] == 'p';
  }
  return false;
}

}  // namespace

HugePageBuffer::HugePageBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  // Over-allocate by one huge page and align inside, so that the 2 MiB pages can be used.
  mapping_bytes_ = bytes + kHugePage;
  mapping_ = ::mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) {
    mapping_ = nullptr;
    throw std::bad_alloc();
  }
  const uintptr_t aligned = (reinterpret_cast<uintptr_t>(mapping_) + kHugePage - 1) & ~(kHugePage - 1);
  data_ = reinterpret_cast<void*>(aligned);
  ::madvise(data_, bytes_, MADV_HUGEPAGE);  // advice only: failing (THP compiled out) is harmless
}

HugePageBuffer::~HugePageBuffer() {
  if (mapping_) ::munmap(mapping_, mapping_bytes_);
}

std::unique_ptr<HugePageBuffer> copy_to_huge_pages(const CpuContext& ctx, const void* src, size_t bytes) {
  auto buffer = std::make_unique<HugePageBuffer>(bytes);
  const auto* from = static_cast<const std::byte*>(src);
  auto* to = static_cast<std::byte*>(buffer->data());
  // A large matrix copies faster on every core (each thread's half has its own page faults).
  const int t = threads_for(ctx.threads(), static_cast<double>(bytes), 4.0 * (1 << 20));
  parallel_ranges(static_cast<int64_t>(bytes), t, 4096, [&](int64_t b, int64_t e) {
    std::memcpy(to + b, from + b, static_cast<size_t>(e - b));
  });
  release_file_pages(src, bytes);
  return buffer;
}

size_t release_file_pages(const void* p, size_t bytes) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t first = (begin + page - 1) & ~(page - 1);            // whole pages only: the
  const uintptr_t last = (begin + bytes) & ~(page - 1);                // neighbours' bytes stay mapped
  if (bytes == 0 || last <= first) return 0;
  if (!in_read_only_private_file_mapping(first, last)) return 0;
  if (::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) != 0) return 0;
  return last - first;
}

}  // namespace fathom::cpu
