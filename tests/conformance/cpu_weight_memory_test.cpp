// The cpu backend's weight memory (backends/cpu/matmul/weight_memory.h): the arena of copies, and
// releasing a copied matrix's file pages without ever touching memory that is not a read-only
// file mapping (MADV_DONTNEED on anonymous memory would turn it into zeros).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cpu_context.h"
#include "matmul/weight_memory.h"

namespace fathom::cpu {
namespace {

constexpr size_t kBytes = size_t{3} << 20;  // several pages, not a multiple of 2 MiB

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + i / 4096);
  return v;
}

// Resident KiB of this process's mapping that starts at `start` (/proc/self/smaps: what the
// process has mapped, unlike mincore, which reports the file's pages in the page cache).
size_t mapping_rss_kib(const void* start) {
  std::ifstream smaps("/proc/self/smaps");
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "%lx-", static_cast<unsigned long>(reinterpret_cast<uintptr_t>(start)));
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    if (line.rfind(prefix, 0) == 0) inside = true;
    else if (inside && line.rfind("Rss:", 0) == 0) return std::stoul(line.substr(4));
  }
  return SIZE_MAX;
}

class MappedFile {
 public:
  explicit MappedFile(const std::vector<uint8_t>& bytes, int prot = PROT_READ, int flags = MAP_PRIVATE) {
    path_ = std::filesystem::temp_directory_path() / ("fathom-weight-memory-" + std::to_string(getpid()) + ".bin");
    std::ofstream(path_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    fd_ = open(path_.c_str(), prot & PROT_WRITE ? O_RDWR : O_RDONLY);
    data_ = mmap(nullptr, bytes.size(), prot, flags, fd_, 0);
    size_ = bytes.size();
  }
  ~MappedFile() {
    munmap(data_, size_);
    close(fd_);
    std::filesystem::remove(path_);
  }
  uint8_t* data() const { return static_cast<uint8_t*>(data_); }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  void* data_ = nullptr;
  size_t size_ = 0;
};

TEST(CpuWeightMemory, ArenaPacksBlocksIntoFewAlignedChunks) {
  WeightArena arena;
  std::vector<WeightArena::Block> blocks;
  for (size_t bytes : {kBytes, size_t{4096} + 3, size_t{1}, kBytes}) blocks.push_back(arena.allocate(bytes));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(blocks[0].data) % (size_t{2} << 20), 0u);  // a chunk starts on a huge page
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(blocks[i].data) % 64, 0u);
    EXPECT_EQ(blocks[i].chunk, blocks[0].chunk) << "block " << i << " should share the first chunk";
    auto* p = static_cast<uint8_t*>(blocks[i].data);
    p[0] = static_cast<uint8_t>(i);
    p[blocks[i].size - 1] = static_cast<uint8_t>(i);
    if (i > 0) {
      EXPECT_GE(p, static_cast<uint8_t*>(blocks[i - 1].data) + blocks[i - 1].size) << "blocks overlap";
    }
  }
  // Larger than what the chunk has left (chunks are 1 GiB): a chunk of its own, and the current
  // chunk stays current (address space only: nothing is touched).
  WeightArena::Block big = arena.allocate(size_t{1536} << 20);
  EXPECT_NE(big.chunk, blocks[0].chunk);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data) % (size_t{2} << 20), 0u);
  EXPECT_EQ(arena.allocate(64).chunk, blocks[0].chunk);
}

TEST(CpuWeightMemory, BlocksOutliveTheirArena) {
  WeightArena::Block block;
  {
    WeightArena arena;
    block = arena.allocate(kBytes);
  }
  auto* p = static_cast<uint8_t*>(block.data);
  p[kBytes - 1] = 7;  // still mapped: the block holds its chunk
  EXPECT_EQ(p[kBytes - 1], 7);
}

TEST(CpuWeightMemory, CopyHoldsTheBytesAndReleasesTheFilePages) {
  const std::vector<uint8_t> want = pattern(kBytes);
  MappedFile file(want);
  const uint8_t* src = file.data();
  ASSERT_EQ(std::memcmp(src, want.data(), kBytes), 0);  // faults every page in
  ASSERT_GE(mapping_rss_kib(src), kBytes / 1024);

  CpuContext ctx(CpuOptions{});
  WeightArena::Block copy = copy_to_arena(ctx, src + 100, kBytes - 100);  // a tensor need not start on a page
  EXPECT_EQ(std::memcmp(copy.data, want.data() + 100, kBytes - 100), 0);
  // Every whole page of the range is gone from this process; the partial first page stays.
  EXPECT_LE(mapping_rss_kib(src), 4u);
  // And the file's bytes are still there to read.
  EXPECT_EQ(std::memcmp(src, want.data(), kBytes), 0);
}

TEST(CpuWeightMemory, OtherMemoryIsNeverReleased) {
  const std::vector<uint8_t> want = pattern(kBytes);
  std::vector<uint8_t> heap = want;  // anonymous: MADV_DONTNEED would zero it
  EXPECT_EQ(release_file_pages(heap.data(), heap.size()), 0u);
  EXPECT_EQ(heap, want);

  MappedFile writable(want, PROT_READ | PROT_WRITE, MAP_PRIVATE);  // may hold private changes
  writable.data()[8192] ^= 0xff;
  EXPECT_EQ(release_file_pages(writable.data(), kBytes), 0u);
  EXPECT_EQ(writable.data()[8192], static_cast<uint8_t>(want[8192] ^ 0xff));

  MappedFile read_only(want);
  EXPECT_GT(release_file_pages(read_only.data(), kBytes), 0u);
}

}  // namespace
}  // namespace fathom::cpu
