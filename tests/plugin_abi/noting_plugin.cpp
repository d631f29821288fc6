// A plugin that accepts every op with a note, as a backend does when it accepts an op on its own
// terms (the HIP backend: "FP8 weights converted to bf16 at load"). The placement test checks
// that `fathom inspect --placement` shows the note next to the backend's yes. It also declines
// device-side copies (buffer_copy answers UNSUPPORTED, as the ABI allows), for the host's
// staged copy.
#include <vector>

#include "fathom/sdk/host_backend.hpp"
#include "fathom/sdk/plugin.hpp"

namespace {

class NotingBackend final : public fathom::sdk::HostBackend {
 public:
  void device_info(uint32_t, fathom_device_info& out) override { fathom::sdk::copy_text(out.name, sizeof out.name, "test"); }
  std::vector<uint32_t> op_kinds() override { return {}; }
  void buffer_copy(fathom_view, fathom_view) override { fathom::sdk::fail_unsupported("no device-side copy (test)"); }

 protected:
  fathom_op_support support(const fathom_op_desc&) override {
    return {FATHOM_SUPPORT_YES, 0, "accepted with a test note"};
  }
  fathom::sdk::HostKernel kernel(const fathom_op_desc&) override { fathom::sdk::fail_unsupported("placement test only"); }
};

struct NotingPlugin {
  static constexpr const char* name = "noting";
  static constexpr const char* version = "0.0.1";
  static int32_t probe(char*, size_t) { return 1; }
  static const fathom_option_decl* options() { return nullptr; }
  static fathom::sdk::Backend* create(const fathom_host_api&, const fathom_options&) { return new NotingBackend(); }
};

}  // namespace

FATHOM_DEFINE_PLUGIN(NotingPlugin)
