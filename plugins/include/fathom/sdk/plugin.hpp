// The C++ side of a plugin: derive from sdk::Backend, describe the plugin in a class with a
// few static members, and expand FATHOM_DEFINE_PLUGIN(ThatClass) once. The macro exports
// fathom_backend_entry and builds the ABI table whose every function catches exceptions.
//
//   struct MyPlugin {
//     static constexpr const char* name = "my";
//     static constexpr const char* version = "0.1.0";
//     static int32_t probe(char* reason, size_t size);            // 0 = cannot run here
//     static const fathom_option_decl* options();                  // NULL-terminated, or nullptr
//     static sdk::Backend* create(const fathom_host_api& host, const fathom_options& options);
//   };
//   FATHOM_DEFINE_PLUGIN(MyPlugin)
#pragma once

#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "fathom/plugin_api.h"
#include "fathom/sdk/status.hpp"

namespace fathom::sdk {

// What a backend implements. Buffer and executable handles are the backend's own pointers
// cast to the ABI's opaque types.
class Backend {
 public:
  virtual ~Backend() = default;

  virtual uint32_t device_count() { return 1; }
  virtual void device_info(uint32_t device, fathom_device_info& out) = 0;
  virtual std::vector<uint32_t> op_kinds() = 0;
  virtual fathom_op_support query_op(uint32_t device, const fathom_op_desc& op) = 0;

  virtual fathom_buffer* buffer_alloc(uint32_t device, uint64_t size) = 0;
  virtual fathom_buffer* buffer_import_host(uint32_t device, void* ptr, uint64_t size) {
    fail_unsupported("this backend cannot wrap host memory");
  }
  virtual void buffer_free(fathom_buffer* buffer) = 0;
  virtual void* buffer_host_pointer(fathom_buffer* buffer) { return nullptr; }
  virtual void buffer_upload(fathom_view dst, const void* src) = 0;
  virtual void buffer_download(fathom_view src, void* dst) = 0;
  virtual void buffer_copy(fathom_view src, fathom_view dst) { fail_unsupported("no device-side copy"); }
  virtual void buffer_gather_rows(fathom_view src, fathom_view dst, std::span<const int32_t> ids, uint64_t row_bytes) {
    fail_unsupported("no gather_rows");
  }

  virtual fathom_executable* compile(uint32_t device, const fathom_segment& segment,
                                     std::span<const fathom_binding> bindings) = 0;
  virtual void run(fathom_executable* executable, std::span<const fathom_binding> bindings, int64_t n_tokens) = 0;
  virtual void executable_destroy(fathom_executable* executable) = 0;
  // Per-node accumulated time (see fathom_backend_api::executable_profile).
  virtual void executable_profile(fathom_executable* executable, std::span<fathom_node_profile> out) {
    fail_unsupported("this backend does not profile nodes");
  }

 protected:
  // Host services (logging). Set by the generated create().
  friend struct BackendAccess;
  const fathom_host_api* host_ = nullptr;

  void log(int32_t level, const std::string& message) const {
    if (host_ && host_->log) host_->log(host_->context, level, message.c_str());
  }
};

struct BackendAccess {
  static void set_host(Backend& b, const fathom_host_api* host) { b.host_ = host; }
};

inline Backend& as_backend(fathom_backend* b) { return *reinterpret_cast<Backend*>(b); }

// Copies text into a fixed char field, always NUL-terminated.
inline void copy_text(char* dst, size_t size, const std::string& text) {
  if (size == 0) return;
  std::snprintf(dst, size, "%s", text.c_str());
}

template <typename Plugin>
const fathom_backend_api* plugin_entry(uint32_t host_major, uint32_t host_minor) {
  static const fathom_backend_api api = [] {
    fathom_backend_api a{};
    a.struct_size = sizeof(fathom_backend_api);
    a.abi_major = FATHOM_ABI_MAJOR;
    a.abi_minor = FATHOM_ABI_MINOR;
    a.name = Plugin::name;
    a.version = Plugin::version;
    a.probe = [](char* reason, size_t size) -> int32_t {
      try {
        return Plugin::probe(reason, size);
      } catch (...) {
        if (size) copy_text(reason, size, "probe failed with an exception");
        return 0;
      }
    };
    a.options = Plugin::options();
    a.create = [](const fathom_host_api* host, const fathom_options* options, fathom_backend** out) {
      return guard([&] {
        if (!host || !options || !out) fail_invalid("create: NULL argument");
        Backend* b = Plugin::create(*host, *options);
        BackendAccess::set_host(*b, host);
        *out = reinterpret_cast<fathom_backend*>(b);
      });
    };
    a.destroy = [](fathom_backend* b) { guard([&] { delete &as_backend(b); }); };
    a.device_count = [](fathom_backend* b) -> uint32_t {
      uint32_t n = 0;
      guard([&] { n = as_backend(b).device_count(); });
      return n;
    };
    a.device_info = [](fathom_backend* b, uint32_t device, fathom_device_info* out) {
      return guard([&] {
        if (device >= as_backend(b).device_count()) fail(FATHOM_STATUS_OUT_OF_RANGE, "no such device");
        std::memset(out, 0, sizeof *out);
        out->struct_size = sizeof *out;
        as_backend(b).device_info(device, *out);
      });
    };
    a.op_kinds = [](fathom_backend* b, uint32_t* out, uint32_t capacity) -> uint32_t {
      std::vector<uint32_t> kinds;
      guard([&] { kinds = as_backend(b).op_kinds(); });
      for (uint32_t i = 0; i < capacity && i < kinds.size(); ++i) out[i] = kinds[i];
      return static_cast<uint32_t>(kinds.size());
    };
    a.query_ops = [](fathom_backend* b, uint32_t device, const fathom_op_desc* ops, size_t n, fathom_op_support* out) {
      return guard([&] {
        for (size_t i = 0; i < n; ++i) out[i] = as_backend(b).query_op(device, ops[i]);
      });
    };
    a.buffer_alloc = [](fathom_backend* b, uint32_t device, uint64_t size, fathom_buffer** out) {
      return guard([&] { *out = as_backend(b).buffer_alloc(device, size); });
    };
    a.buffer_import_host = [](fathom_backend* b, uint32_t device, void* ptr, uint64_t size, fathom_buffer** out) {
      return guard([&] { *out = as_backend(b).buffer_import_host(device, ptr, size); });
    };
    a.buffer_free = [](fathom_backend* b, fathom_buffer* buf) { guard([&] { as_backend(b).buffer_free(buf); }); };
    a.buffer_host_pointer = [](fathom_backend* b, fathom_buffer* buf) -> void* {
      void* p = nullptr;
      guard([&] { p = as_backend(b).buffer_host_pointer(buf); });
      return p;
    };
    a.buffer_upload = [](fathom_backend* b, fathom_view dst, const void* src) {
      return guard([&] { as_backend(b).buffer_upload(dst, src); });
    };
    a.buffer_download = [](fathom_backend* b, fathom_view src, void* dst) {
      return guard([&] { as_backend(b).buffer_download(src, dst); });
    };
    a.buffer_copy = [](fathom_backend* b, fathom_view src, fathom_view dst) {
      return guard([&] { as_backend(b).buffer_copy(src, dst); });
    };
    a.buffer_gather_rows = [](fathom_backend* b, fathom_view src, fathom_view dst, const int32_t* ids, size_t n,
                              uint64_t row_bytes) {
      return guard([&] { as_backend(b).buffer_gather_rows(src, dst, std::span<const int32_t>(ids, n), row_bytes); });
    };
    a.compile = [](fathom_backend* b, uint32_t device, const fathom_segment* segment, const fathom_binding* bindings,
                   size_t n, fathom_executable** out) {
      return guard([&] {
        if (!segment || segment->struct_size < sizeof(fathom_segment)) fail_invalid("compile: bad segment struct");
        *out = as_backend(b).compile(device, *segment, std::span<const fathom_binding>(bindings, n));
      });
    };
    a.run = [](fathom_backend* b, fathom_executable* e, const fathom_binding* bindings, size_t n, int64_t n_tokens) {
      return guard([&] { as_backend(b).run(e, std::span<const fathom_binding>(bindings, n), n_tokens); });
    };
    a.executable_destroy = [](fathom_backend* b, fathom_executable* e) {
      guard([&] { as_backend(b).executable_destroy(e); });
    };
    a.executable_profile = [](fathom_backend* b, fathom_executable* e, fathom_node_profile* out, size_t n) {
      return guard([&] { as_backend(b).executable_profile(e, std::span<fathom_node_profile>(out, n)); });
    };
    return a;
  }();
  // Another major speaks a different language: decline rather than be misread.
  if (host_major != FATHOM_ABI_MAJOR) return nullptr;
  (void)host_minor;  // a newer host reads only up to our struct_size; an older one ignores the tail
  return &api;
}

}  // namespace fathom::sdk

#define FATHOM_DEFINE_PLUGIN(PluginClass)                                                                 \
  extern "C" FATHOM_PLUGIN_EXPORT const fathom_backend_api* fathom_backend_entry(uint32_t host_major,     \
                                                                                 uint32_t host_minor) {   \
    return ::fathom::sdk::plugin_entry<PluginClass>(host_major, host_minor);                             \
  }
