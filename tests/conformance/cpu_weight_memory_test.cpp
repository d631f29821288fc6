// The cpu backend's weight memory (backends/cpu/matmul/weight_memory.h): huge-page buffers, and
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

TEST(CpuWeightMemory, HugePageBufferIsAlignedAndWritable) {
  HugePageBuffer b(kBytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % (size_t{2} << 20), 0u);
  EXPECT_EQ(b.size(), kBytes);
  auto* p = static_cast<uint8_t*>(b.data());
  p[0] = 1;
  p[kBytes - 1] = 2;
  EXPECT_EQ(p[0] + p[kBytes - 1], 3);
}

TEST(CpuWeightMemory, CopyHoldsTheBytesAndReleasesTheFilePages) {
  const std::vector<uint8_t> want = pattern(kBytes);
  MappedFile file(want);
  const uint8_t* src = file.data();
  ASSERT_EQ(std::memcmp(src, want.data(), kBytes), 0);  // faults every page in
  ASSERT_GE(mapping_rss_kib(src), kBytes / 1024);

  CpuContext ctx(CpuOptions{});
  auto copy = copy_to_huge_pages(ctx, src + 100, kBytes - 100);  // a tensor need not start on a page
  EXPECT_EQ(std::memcmp(copy->data(), want.data() + 100, kBytes - 100), 0);
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
