// A read-only memory mapping of a whole file.
//
// Weights are used in place from the mapping: nothing is copied on load, and the kernel pages
// data in on first touch. The mapping is MAP_PRIVATE so that a writer elsewhere can never be
// observed through it by accident of sharing (a file truncated under us can still raise SIGBUS
// on access; that is the usual contract of mmap'd model files).
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace fathom::model {

class MappedFile {
 public:
  // Maps `path` read-only. Throws fathom::Error (not_found, io, invalid_argument for a
  // directory) naming the path and the operating system's reason.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  // An empty file maps to {nullptr, 0}.
  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

 private:
  void release() noexcept;

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace fathom::model
