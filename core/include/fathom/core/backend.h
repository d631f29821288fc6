// C++ handles over a loaded backend plugin. Every call goes through the ABI table; a non-OK
// status becomes a fathom::Error whose message names the backend and the call.
//
// Lifetime: a Buffer or Executable keeps its BackendInstance alive, and a BackendInstance keeps
// its library loaded, so destruction runs in the order the ABI requires (objects, then the
// backend's destroy(), then dlclose) whatever order the owners go away in.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fathom/plugin_api.h"

namespace fathom {

class PluginLibrary;

struct DeviceInfo {
  uint32_t kind = FATHOM_DEVICE_CPU;
  std::string name;
  std::string description;
  uint64_t total_memory = 0;
  uint64_t free_memory = 0;
};

struct OpSupport {
  int32_t level = FATHOM_SUPPORT_NO;
  std::string reason;
};

class BackendInstance : public std::enable_shared_from_this<BackendInstance> {
 public:
  BackendInstance(std::shared_ptr<PluginLibrary> library, std::unique_ptr<fathom_host_api> host_api,
                  fathom_backend* handle);
  ~BackendInstance();
  BackendInstance(const BackendInstance&) = delete;
  BackendInstance& operator=(const BackendInstance&) = delete;

  const std::string& name() const;
  const fathom_backend_api& api() const;
  fathom_backend* handle() const { return handle_; }

  uint32_t device_count() const;
  DeviceInfo device_info(uint32_t device) const;
  std::vector<uint32_t> op_kinds() const;
  std::vector<OpSupport> query_ops(uint32_t device, std::span<const fathom_op_desc> ops) const;

  // Throws fathom::Error(code from the plugin) with "backend 'name': what: message".
  void check(fathom_status status, const char* what) const;

 private:
  std::shared_ptr<PluginLibrary> library_;  // declared first: released last
  std::unique_ptr<fathom_host_api> host_api_;
  fathom_backend* handle_;
};

// A buffer owned by a backend.
class Buffer {
 public:
  static Buffer allocate(std::shared_ptr<BackendInstance> backend, uint32_t device, uint64_t size);
  // Wraps host memory without copying when the backend can; returns an empty Buffer when it
  // answers UNSUPPORTED (the caller then allocates and uploads).
  static Buffer import_host(std::shared_ptr<BackendInstance> backend, uint32_t device, void* ptr, uint64_t size);

  Buffer() = default;
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  ~Buffer();

  explicit operator bool() const { return handle_ != nullptr; }
  uint64_t size() const { return size_; }
  fathom_view view(uint64_t offset, uint64_t size) const { return fathom_view{handle_, offset, size}; }
  fathom_view whole() const { return view(0, size_); }
  void* host_pointer() const;  // nullptr when not host-visible
  void upload(uint64_t offset, const void* src, uint64_t size);
  void download(uint64_t offset, void* dst, uint64_t size) const;
  // Copies `size` bytes at `src_offset` to `dst_offset` of this buffer (the ranges must not
  // overlap): on the device when the backend copies there, else staged through host memory.
  void copy_within(uint64_t src_offset, uint64_t dst_offset, uint64_t size);
  const std::shared_ptr<BackendInstance>& backend() const { return backend_; }

 private:
  void reset();
  std::shared_ptr<BackendInstance> backend_;
  fathom_buffer* handle_ = nullptr;
  uint64_t size_ = 0;
};

// A compiled segment.
class Executable {
 public:
  static Executable compile(std::shared_ptr<BackendInstance> backend, uint32_t device, const fathom_segment& segment,
                            std::span<const fathom_binding> bindings);
  Executable() = default;
  Executable(Executable&& other) noexcept;
  Executable& operator=(Executable&& other) noexcept;
  ~Executable();

  void run(std::span<const fathom_binding> bindings, int64_t n_tokens);
  // Time per node since compile (segment node order); empty when the backend does not profile.
  std::vector<fathom_node_profile> profile(size_t n_nodes) const;

 private:
  void reset();
  std::shared_ptr<BackendInstance> backend_;
  fathom_executable* handle_ = nullptr;
};

// "cpu, reference": a chain's backend names, for messages.
std::string backend_names(const std::vector<std::shared_ptr<BackendInstance>>& chain);

}  // namespace fathom
