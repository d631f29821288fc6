// A minimal, complete backend plugin: host memory, two ops (add, silu_mul) on f32 tensors.
//
// It exists to be copied. Everything a real backend needs is here in small form: the plugin
// description (name, version, probe, options, create), the capability answer, and kernels.
// Buffers and segment execution come from sdk::HostBackend; a GPU backend implements those
// itself (see backends/cuda).
#include <cmath>
#include <vector>

#include "fathom/sdk/host_backend.hpp"
#include "fathom/sdk/plugin.hpp"

namespace fathom::template_backend {

namespace {

// out = a + b
void add(const sdk::KernelArgs& args) {
  const float* a = args.in[0]->as<const float>();
  const float* b = args.in[1]->as<const float>();
  float* out = args.out[0]->as<float>();
  for (int64_t i = 0; i < args.out[0]->numel(); ++i) out[i] = a[i] + b[i];
}

// out = silu(gate) * up
void silu_mul(const sdk::KernelArgs& args) {
  const float* gate = args.in[0]->as<const float>();
  const float* up = args.in[1]->as<const float>();
  float* out = args.out[0]->as<float>();
  for (int64_t i = 0; i < args.out[0]->numel(); ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

class TemplateBackend final : public sdk::HostBackend {
 public:
  void device_info(uint32_t, fathom_device_info& out) override {
    out.kind = FATHOM_DEVICE_CPU;
    sdk::copy_text(out.name, sizeof out.name, "host CPU");
    sdk::copy_text(out.description, sizeof out.description, "template backend: add and silu_mul on f32");
  }

  std::vector<uint32_t> op_kinds() override { return {FATHOM_OP_ADD, FATHOM_OP_SILU_MUL}; }

 protected:
  // The structure of `op` was already checked (sdk::check_signature); decide on dtypes here.
  fathom_op_support support(const fathom_op_desc& op) override {
    if (op.op != FATHOM_OP_ADD && op.op != FATHOM_OP_SILU_MUL) return {FATHOM_SUPPORT_NO, 0, "not in the template"};
    for (uint32_t i = 0; i < op.n_inputs; ++i) {
      if (op.inputs[i].dtype != FATHOM_DTYPE_F32) return {FATHOM_SUPPORT_NO, 0, "the template computes in f32 only"};
    }
    if (op.outputs[0].dtype != FATHOM_DTYPE_F32) return {FATHOM_SUPPORT_NO, 0, "the template computes in f32 only"};
    return {FATHOM_SUPPORT_YES, 0, nullptr};
  }

  sdk::HostKernel kernel(const fathom_op_desc& op) override { return op.op == FATHOM_OP_ADD ? add : silu_mul; }
};

struct TemplatePlugin {
  static constexpr const char* name = "template";  // must match libfathom-backend-<name>.so
  static constexpr const char* version = "0.1.0";
  // 0 means "cannot run on this machine": write why into reason. Check for your hardware here.
  static int32_t probe(char*, size_t) { return 1; }
  static const fathom_option_decl* options() { return nullptr; }  // no [backend.template] keys
  static sdk::Backend* create(const fathom_host_api&, const fathom_options&) { return new TemplateBackend(); }
};

}  // namespace
}  // namespace fathom::template_backend

FATHOM_DEFINE_PLUGIN(fathom::template_backend::TemplatePlugin)
