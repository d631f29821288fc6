// Deliberately broken backend plugins, one per way a plugin can misbehave. Built several
// times with a different FATHOM_BROKEN_KIND each; the plugin ABI tests check that the host
// refuses each with a clear reason while good plugins keep working.
#include <stdexcept>
#include <vector>

#include "fathom/sdk/host_backend.hpp"
#include "fathom/sdk/plugin.hpp"

#define KIND_WRONG_MAJOR 1
#define KIND_NO_SYMBOL 2
#define KIND_NULL_TABLE 3
#define KIND_THROWS_IN_CREATE 4
#define KIND_FAILS_IN_CREATE 5
#define KIND_PROBE_ZERO 6
#define KIND_MISNAMED 7
#define KIND_SMALL_TABLE 8
#define KIND_MISSING_FUNCTION 9

namespace {

class MinimalBackend final : public fathom::sdk::HostBackend {
 public:
  void device_info(uint32_t, fathom_device_info& out) override { fathom::sdk::copy_text(out.name, sizeof out.name, "test"); }
  std::vector<uint32_t> op_kinds() override { return {}; }

 protected:
  fathom_op_support support(const fathom_op_desc&) override { return {FATHOM_SUPPORT_NO, 0, "test plugin"}; }
  fathom::sdk::HostKernel kernel(const fathom_op_desc&) override { fathom::sdk::fail_unsupported("test plugin"); }
};

struct BrokenPlugin {
  static constexpr const char* name = FATHOM_BROKEN_NAME;
  static constexpr const char* version = "0.0.1";
  static int32_t probe(char* reason, size_t size) {
#if FATHOM_BROKEN_KIND == KIND_PROBE_ZERO
    fathom::sdk::copy_text(reason, size, "no widget attached to this machine");
    return 0;
#else
    return 1;
#endif
  }
  static const fathom_option_decl* options() { return nullptr; }
  static fathom::sdk::Backend* create(const fathom_host_api&, const fathom_options&) { return new MinimalBackend(); }
};

#if FATHOM_BROKEN_KIND == KIND_THROWS_IN_CREATE
// Lets a C++ exception escape through the C ABI, which a correct plugin never does.
fathom_status throwing_create(const fathom_host_api*, const fathom_options*, fathom_backend**) {
  throw std::runtime_error("boom from create");
}
#endif
#if FATHOM_BROKEN_KIND == KIND_FAILS_IN_CREATE
fathom_status failing_create(const fathom_host_api*, const fathom_options*, fathom_backend**) {
  return fathom::sdk::make_status(FATHOM_STATUS_UNAVAILABLE, "the widget driver is too old");
}
#endif

}  // namespace

#if FATHOM_BROKEN_KIND == KIND_NO_SYMBOL
// Exports something, but not the entry symbol.
extern "C" FATHOM_PLUGIN_EXPORT int fathom_backend_entry_misspelled() { return 0; }
#else
extern "C" FATHOM_PLUGIN_EXPORT const fathom_backend_api* fathom_backend_entry(uint32_t major, uint32_t minor) {
  static fathom_backend_api api = *fathom::sdk::plugin_entry<BrokenPlugin>(major, minor);
#if FATHOM_BROKEN_KIND == KIND_WRONG_MAJOR
  api.abi_major = FATHOM_ABI_MAJOR + 1;
#elif FATHOM_BROKEN_KIND == KIND_NULL_TABLE
  return nullptr;
#elif FATHOM_BROKEN_KIND == KIND_THROWS_IN_CREATE
  api.create = throwing_create;
#elif FATHOM_BROKEN_KIND == KIND_FAILS_IN_CREATE
  api.create = failing_create;
#elif FATHOM_BROKEN_KIND == KIND_MISNAMED
  api.name = "somebody-else";
#elif FATHOM_BROKEN_KIND == KIND_SMALL_TABLE
  api.struct_size = 24;
#elif FATHOM_BROKEN_KIND == KIND_MISSING_FUNCTION
  api.run = nullptr;
#endif
  return &api;
}
#endif
