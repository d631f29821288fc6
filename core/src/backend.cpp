#include "fathom/core/backend.h"

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "fathom/core/error.h"
#include "plugin_library.h"

namespace fathom {

BackendInstance::BackendInstance(std::shared_ptr<PluginLibrary> library, std::unique_ptr<fathom_host_api> host_api,
                                 fathom_backend* handle)
    : library_(std::move(library)), host_api_(std::move(host_api)), handle_(handle) {}

BackendInstance::~BackendInstance() {
  if (handle_) library_->api()->destroy(handle_);
}

const std::string& BackendInstance::name() const { return library_->name(); }
const fathom_backend_api& BackendInstance::api() const { return *library_->api(); }

void BackendInstance::check(fathom_status status, const char* what) const {
  if (status.code == FATHOM_STATUS_OK) return;
  ErrorCode code = (status.code > 0 && status.code <= static_cast<int>(ErrorCode::io))
                       ? static_cast<ErrorCode>(status.code)
                       : ErrorCode::internal;
  std::string message = status.message ? status.message : "(no message)";
  throw Error(code, "backend '" + name() + "': " + what + ": " + message);
}

uint32_t BackendInstance::device_count() const { return api().device_count(handle_); }

DeviceInfo BackendInstance::device_info(uint32_t device) const {
  fathom_device_info raw{};
  raw.struct_size = sizeof raw;
  check(api().device_info(handle_, device, &raw), "device_info");
  raw.name[sizeof raw.name - 1] = '\0';  // never trust a plugin to terminate its strings
  raw.description[sizeof raw.description - 1] = '\0';
  return DeviceInfo{raw.kind, raw.name, raw.description, raw.total_memory, raw.free_memory};
}

std::vector<uint32_t> BackendInstance::op_kinds() const {
  std::vector<uint32_t> ops(64);
  uint32_t n = api().op_kinds(handle_, ops.data(), static_cast<uint32_t>(ops.size()));
  if (n > ops.size()) {
    ops.resize(n);
    n = api().op_kinds(handle_, ops.data(), n);
  }
  ops.resize(std::min<size_t>(n, ops.size()));
  return ops;
}

std::vector<OpSupport> BackendInstance::query_ops(uint32_t device, std::span<const fathom_op_desc> ops) const {
  std::vector<fathom_op_support> raw(ops.size());
  check(api().query_ops(handle_, device, ops.data(), ops.size(), raw.data()), "query_ops");
  std::vector<OpSupport> out;
  out.reserve(raw.size());
  for (const auto& r : raw) out.push_back(OpSupport{r.level, r.reason ? r.reason : ""});
  return out;
}

// ---- Buffer ----------------------------------------------------------------------------------

Buffer Buffer::allocate(std::shared_ptr<BackendInstance> backend, uint32_t device, uint64_t size) {
  Buffer b;
  backend->check(backend->api().buffer_alloc(backend->handle(), device, size, &b.handle_), "buffer_alloc");
  b.backend_ = std::move(backend);
  b.size_ = size;
  return b;
}

Buffer Buffer::import_host(std::shared_ptr<BackendInstance> backend, uint32_t device, void* ptr, uint64_t size) {
  Buffer b;
  if (!backend->api().buffer_import_host) return b;
  fathom_status s = backend->api().buffer_import_host(backend->handle(), device, ptr, size, &b.handle_);
  if (s.code == FATHOM_STATUS_UNSUPPORTED) return Buffer();
  backend->check(s, "buffer_import_host");
  b.backend_ = std::move(backend);
  b.size_ = size;
  return b;
}

Buffer::Buffer(Buffer&& other) noexcept
    : backend_(std::move(other.backend_)), handle_(std::exchange(other.handle_, nullptr)), size_(other.size_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    reset();
    backend_ = std::move(other.backend_);
    handle_ = std::exchange(other.handle_, nullptr);
    size_ = other.size_;
  }
  return *this;
}

Buffer::~Buffer() { reset(); }

void Buffer::reset() {
  if (handle_) backend_->api().buffer_free(backend_->handle(), handle_);
  handle_ = nullptr;
  backend_.reset();
}

void* Buffer::host_pointer() const {
  if (!handle_ || !backend_->api().buffer_host_pointer) return nullptr;
  return backend_->api().buffer_host_pointer(backend_->handle(), handle_);
}

void Buffer::upload(uint64_t offset, const void* src, uint64_t size) {
  backend_->check(backend_->api().buffer_upload(backend_->handle(), view(offset, size), src), "buffer_upload");
}

void Buffer::download(uint64_t offset, void* dst, uint64_t size) const {
  backend_->check(backend_->api().buffer_download(backend_->handle(), view(offset, size), dst), "buffer_download");
}

void Buffer::copy_within(uint64_t src_offset, uint64_t dst_offset, uint64_t size) {
  if (size == 0) return;
  if (src_offset + size > size_ || dst_offset + size > size_ ||
      (src_offset < dst_offset + size && dst_offset < src_offset + size)) {
    throw internal_error("Buffer::copy_within: ranges outside the buffer or overlapping");
  }
  if (backend_->api().buffer_copy) {
    const fathom_status s = backend_->api().buffer_copy(backend_->handle(), view(src_offset, size), view(dst_offset, size));
    if (s.code != FATHOM_STATUS_UNSUPPORTED) {
      backend_->check(s, "buffer_copy");
      return;
    }
  }
  // The ABI lets a backend decline device-side copies: stage through host memory in pieces.
  std::vector<std::byte> staging(std::min<uint64_t>(size, 64ull << 20));
  for (uint64_t done = 0; done < size; done += staging.size()) {
    const uint64_t n = std::min<uint64_t>(staging.size(), size - done);
    download(src_offset + done, staging.data(), n);
    upload(dst_offset + done, staging.data(), n);
  }
}

// ---- Executable ------------------------------------------------------------------------------

Executable Executable::compile(std::shared_ptr<BackendInstance> backend, uint32_t device, const fathom_segment& segment,
                               std::span<const fathom_binding> bindings) {
  Executable e;
  backend->check(backend->api().compile(backend->handle(), device, &segment, bindings.data(), bindings.size(), &e.handle_),
                 "compile");
  e.backend_ = std::move(backend);
  return e;
}

Executable::Executable(Executable&& other) noexcept
    : backend_(std::move(other.backend_)), handle_(std::exchange(other.handle_, nullptr)) {}

Executable& Executable::operator=(Executable&& other) noexcept {
  if (this != &other) {
    reset();
    backend_ = std::move(other.backend_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

Executable::~Executable() { reset(); }

void Executable::reset() {
  if (handle_) backend_->api().executable_destroy(backend_->handle(), handle_);
  handle_ = nullptr;
  backend_.reset();
}

void Executable::run(std::span<const fathom_binding> bindings, int64_t n_tokens) {
  if (!handle_) throw Error(ErrorCode::failed_precondition, "run on an empty executable");
  backend_->check(backend_->api().run(backend_->handle(), handle_, bindings.data(), bindings.size(), n_tokens), "run");
}

std::vector<fathom_node_profile> Executable::profile(size_t n_nodes) const {
  const fathom_backend_api& api = backend_->api();
  // An optional entry appended in ABI 1.0: present only when the table reaches it.
  const bool has = api.struct_size >= offsetof(fathom_backend_api, executable_profile) + sizeof(void*) && api.executable_profile;
  if (!handle_ || !has) return {};
  std::vector<fathom_node_profile> out(n_nodes);
  fathom_status s = api.executable_profile(backend_->handle(), handle_, out.data(), out.size());
  if (s.code == FATHOM_STATUS_UNSUPPORTED) return {};
  backend_->check(s, "executable_profile");
  return out;
}

std::string backend_names(const std::vector<std::shared_ptr<BackendInstance>>& chain) {
  std::string names;
  for (const auto& b : chain) names += (names.empty() ? "" : ", ") + b->name();
  return names;
}

}  // namespace fathom
