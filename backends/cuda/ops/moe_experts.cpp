// moe_experts: only routed experts are computed. The (token, slot) pairs are grouped by expert
// on the device (kernels/moe_dispatch.cu); then two grouped products — gate and up fused with
// SwiGLU, then down scaled by the routing weight — read only the experts some token chose;
// then each token sums its K results in order.
#include "ops/moe_experts_op.h"
#include "ops/registry.h"

namespace fathom::cuda {

fathom_op_support support_moe_experts(const fathom_op_desc& d) {
  if (!is_f32(d.inputs[0]) || !is_f32(d.outputs[0])) return unsupported("moe_experts on " FATHOM_GPU_BACKEND " takes and gives f32 activations");
  if (!sdk::is_float_dtype(d.inputs[3].dtype)) return unsupported("moe_experts weights must be float");
  // One weight format for all experts: the grouped kernels are instantiated per format.
  for (uint32_t i = 3; i < d.n_inputs;) {
    const fathom_tensor_desc& w = d.inputs[i];
    if (w.dtype != d.inputs[3].dtype || w.layout != d.inputs[3].layout)
      return unsupported("moe_experts on " FATHOM_GPU_BACKEND " needs every expert matrix in one dtype and layout");
    i += w.layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128 ? 2 : 1;
  }
  return weight_support(d.inputs[3]);
}

std::unique_ptr<Op> make_moe_experts(const OpBuild& b) { return std::make_unique<MoeExpertsOp>(b); }

}  // namespace fathom::cuda
