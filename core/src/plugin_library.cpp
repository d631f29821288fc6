#include "plugin_library.h"

#include <cstddef>
#include <exception>

namespace fathom {

namespace {

// The size of the table as ABI 1.0 defined it: a plugin's table must reach at least this far.
constexpr size_t kMinimumTableSize = offsetof(fathom_backend_api, executable_destroy) + sizeof(void*);

// Returns the name of the first required function the table lacks, or nullptr.
const char* missing_function(const fathom_backend_api& api) {
  if (!api.probe) return "probe";
  if (!api.create) return "create";
  if (!api.destroy) return "destroy";
  if (!api.device_count) return "device_count";
  if (!api.device_info) return "device_info";
  if (!api.op_kinds) return "op_kinds";
  if (!api.query_ops) return "query_ops";
  if (!api.buffer_alloc) return "buffer_alloc";
  if (!api.buffer_free) return "buffer_free";
  if (!api.buffer_upload) return "buffer_upload";
  if (!api.buffer_download) return "buffer_download";
  if (!api.compile) return "compile";
  if (!api.run) return "run";
  if (!api.executable_destroy) return "executable_destroy";
  return nullptr;
}

}  // namespace

std::shared_ptr<PluginLibrary> PluginLibrary::open(const std::filesystem::path& path, const std::string& expected_name) {
  auto lib = std::shared_ptr<PluginLibrary>(new PluginLibrary());
  lib->path_ = path;
  lib->name_ = expected_name;
  auto refuse = [&](std::string why) {
    lib->refusal_ = std::move(why);
    lib->api_ = nullptr;
    if (lib->library_.is_loaded()) lib->library_.unload();
    return lib;
  };

  boost::dll::fs::error_code ec;
  // RTLD_LOCAL: two plugins may bundle different versions of the same library.
  lib->library_.load(boost::dll::fs::path(path), ec, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  if (ec) {
    std::string detail = ec.message();
    return refuse("cannot be loaded as a shared library (" + detail + ")");
  }
  if (!lib->library_.has(FATHOM_BACKEND_ENTRY_SYMBOL)) {
    return refuse("exports no '" FATHOM_BACKEND_ENTRY_SYMBOL "' symbol: not a Fathom backend plugin");
  }
  auto entry = lib->library_.get<const fathom_backend_api*(uint32_t, uint32_t)>(FATHOM_BACKEND_ENTRY_SYMBOL);

  const fathom_backend_api* api = nullptr;
  try {
    api = entry(FATHOM_ABI_MAJOR, FATHOM_ABI_MINOR);
  } catch (const std::exception& e) {
    return refuse(std::string("its entry function threw an exception: ") + e.what());
  } catch (...) {
    return refuse("its entry function threw an exception");
  }
  if (!api) {
    return refuse("its entry function returned NULL: the plugin declined host ABI " + std::to_string(FATHOM_ABI_MAJOR) +
                  "." + std::to_string(FATHOM_ABI_MINOR));
  }
  // abi_major sits at a fixed offset in every version of the table: read it before trusting
  // anything else.
  if (api->abi_major != FATHOM_ABI_MAJOR) {
    return refuse("built for plugin ABI " + std::to_string(api->abi_major) + "." + std::to_string(api->abi_minor) +
                  ", this host speaks ABI " + std::to_string(FATHOM_ABI_MAJOR) + ".x");
  }
  if (api->struct_size < kMinimumTableSize) {
    return refuse("its ABI table is " + std::to_string(api->struct_size) + " bytes, smaller than ABI " +
                  std::to_string(FATHOM_ABI_MAJOR) + ".0's " + std::to_string(kMinimumTableSize));
  }
  if (const char* fn = missing_function(*api)) {
    return refuse(std::string("its ABI table lacks the required function '") + fn + "'");
  }
  std::string table_name = api->name ? api->name : "";
  if (table_name != expected_name) {
    return refuse("the file name says backend '" + expected_name + "' but the plugin calls itself '" + table_name + "'");
  }
  lib->api_ = api;
  return lib;
}

}  // namespace fathom
