#include "fathom/model/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "fathom/core/error.h"

namespace fathom::model {
namespace {

std::string os_reason(int err) { return std::strerror(err); }

// Closes a descriptor on every path out of the constructor; the mapping outlives it.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  const FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    const std::string message = path.string() + ": cannot open: " + os_reason(err);
    if (err == ENOENT) throw not_found(message);
    throw io_error(message);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw io_error(path.string() + ": cannot stat: " + os_reason(errno));
  if (!S_ISREG(st.st_mode)) throw invalid_argument(path.string() + ": not a regular file");
  if (st.st_size == 0) return;  // mmap of length 0 is an error; an empty file is simply empty.

  size_ = static_cast<std::size_t>(st.st_size);
  void* mapping = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (mapping == MAP_FAILED) {
    const int err = errno;
    size_ = 0;
    throw io_error(path.string() + ": cannot map " + std::to_string(st.st_size) + " bytes: " + os_reason(err));
  }
  data_ = static_cast<const std::byte*>(mapping);
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::release() noexcept {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace fathom::model
