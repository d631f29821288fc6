// The reference backend: every op in plain scalar code, run on the host. It is the oracle of
// the conformance tests, so it favours obviousness over speed everywhere.
#include <string>
#include <vector>

#include "fathom/sdk/host_backend.hpp"
#include "fathom/sdk/plugin.hpp"
#include "kernels/kernels.h"

namespace fathom::reference {

namespace {

bool all_float(const fathom_tensor_desc* t, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    if (!sdk::is_float_dtype(t[i].dtype)) return false;
  }
  return true;
}

class ReferenceBackend final : public sdk::HostBackend {
 public:
  explicit ReferenceBackend(bool check_finite) { check_finite_ = check_finite; }

  void device_info(uint32_t, fathom_device_info& out) override {
    out.kind = FATHOM_DEVICE_CPU;
    sdk::copy_text(out.name, sizeof out.name, "host CPU");
    sdk::copy_text(out.description, sizeof out.description, "plain scalar C++, single thread (the test oracle)");
  }

  std::vector<uint32_t> op_kinds() override {
    return {FATHOM_OP_EMBEDDING, FATHOM_OP_RMS_NORM,      FATHOM_OP_MATMUL,    FATHOM_OP_ADD,
            FATHOM_OP_SILU_MUL,  FATHOM_OP_ROPE_YARN,     FATHOM_OP_MLA_ATTENTION, FATHOM_OP_MOE_ROUTE,
            FATHOM_OP_MOE_EXPERTS, FATHOM_OP_SLICE,       FATHOM_OP_CONCAT,    FATHOM_OP_CONVERT};
  }

 protected:
  fathom_op_support support(const fathom_op_desc& op) override {
    const fathom_op_support yes{FATHOM_SUPPORT_YES, 0, nullptr};
    switch (op.op) {
      case FATHOM_OP_EMBEDDING:
        if (!(sdk::is_float_dtype(op.inputs[1].dtype) || sdk::is_ggml_layout(op.inputs[1].layout)) ||
            !all_float(op.outputs, 1))
          return {FATHOM_SUPPORT_NO, 0, "embedding table and output must be float (or the table GGUF blocks)"};
        return yes;
      case FATHOM_OP_MATMUL:
        // x, W and the output may be any float dtype, W also GGUF blocks; the scales are f32 (checked
        // by the signature).
        if (!all_float(op.inputs, 1) || !(sdk::is_float_dtype(op.inputs[1].dtype) || sdk::is_ggml_layout(op.inputs[1].layout)) ||
            !all_float(op.outputs, 1))
          return {FATHOM_SUPPORT_NO, 0, "matmul operands must be float (or W GGUF blocks)"};
        return yes;
      case FATHOM_OP_RMS_NORM:
      case FATHOM_OP_ADD:
      case FATHOM_OP_SILU_MUL:
      case FATHOM_OP_SLICE:
      case FATHOM_OP_CONCAT:
      case FATHOM_OP_CONVERT:
        if (!all_float(op.inputs, op.n_inputs) || !all_float(op.outputs, op.n_outputs))
          return {FATHOM_SUPPORT_NO, 0, "the reference backend computes this op on float tensors only"};
        return yes;
      case FATHOM_OP_ROPE_YARN:
        if (!sdk::is_float_dtype(op.inputs[0].dtype) || !all_float(op.outputs, 1))
          return {FATHOM_SUPPORT_NO, 0, "rope_yarn rotates float tensors"};
        return yes;
      case FATHOM_OP_MLA_ATTENTION:
      case FATHOM_OP_MOE_ROUTE:
      case FATHOM_OP_MOE_EXPERTS:
        // Every float dtype is read through load_f32, GGUF blocks through dequantize; the structure
        // was checked by the signature.
        return yes;
      default:
        return {FATHOM_SUPPORT_NO, 0, "not implemented by the reference backend"};
    }
  }

  sdk::HostKernel kernel(const fathom_op_desc& op) override {
    switch (op.op) {
      case FATHOM_OP_EMBEDDING: return embedding;
      case FATHOM_OP_RMS_NORM: return rms_norm;
      case FATHOM_OP_MATMUL: return matmul;
      case FATHOM_OP_ADD: return add;
      case FATHOM_OP_SILU_MUL: return silu_mul;
      case FATHOM_OP_SLICE: return slice;
      case FATHOM_OP_CONCAT: return concat;
      case FATHOM_OP_CONVERT: return convert;
      case FATHOM_OP_ROPE_YARN: return rope_yarn;
      case FATHOM_OP_MLA_ATTENTION: return mla_attention;
      case FATHOM_OP_MOE_ROUTE: return moe_route;
      case FATHOM_OP_MOE_EXPERTS: return moe_experts;
      default: sdk::fail_unsupported("no reference kernel for op " + std::to_string(op.op));
    }
  }
};

const fathom_option_decl kOptions[] = {
    {"check_finite", FATHOM_OPTION_BOOL, 0, "false", "fail a run at the first node that outputs NaN or Inf"},
    {nullptr, 0, 0, nullptr, nullptr},
};

struct ReferencePlugin {
  static constexpr const char* name = "reference";
  static constexpr const char* version = "0.1.0";
  static int32_t probe(char*, size_t) { return 1; }  // plain C++: runs anywhere
  static const fathom_option_decl* options() { return kOptions; }
  static sdk::Backend* create(const fathom_host_api&, const fathom_options& options) {
    int32_t check_finite = 0;
    if (options.get_bool) options.get_bool(options.context, "check_finite", &check_finite);
    return new ReferenceBackend(check_finite != 0);
  }
};

}  // namespace
}  // namespace fathom::reference

FATHOM_DEFINE_PLUGIN(fathom::reference::ReferencePlugin)
