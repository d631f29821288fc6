// moe_route: the router logits by the exact product (selection must not depend on rounding the
// activations), then the selection kernel (kernels/moe_route.cu).
#include "ops/moe_route_op.h"
#include "ops/registry.h"

namespace fathom::cuda {

fathom_op_support support_moe_route(const fathom_op_desc& d) {
  const auto a = attrs_of<fathom_moe_route_attrs>(d);
  if (!is_f32(d.inputs[0])) return unsupported("moe_route on " FATHOM_GPU_BACKEND " takes f32 activations");
  if (!sdk::is_float_dtype(d.inputs[1].dtype) || d.inputs[1].layout != FATHOM_LAYOUT_DENSE)
    return unsupported("moe_route on " FATHOM_GPU_BACKEND " takes a dense float gate");
  if (a.n_experts > gpu::kRouteMaxExpertsPerLane * FATHOM_WARP_SIZE) return unsupported("moe_route on " FATHOM_GPU_BACKEND ": more than 256 experts");
  if (a.top_k > gpu::kRouteMaxTopK) return unsupported("moe_route on " FATHOM_GPU_BACKEND ": top_k above 32");
  if (a.n_group > FATHOM_WARP_SIZE) return unsupported("moe_route on " FATHOM_GPU_BACKEND ": more than 32 groups");
  return preferred();
}

std::unique_ptr<Op> make_moe_route(const OpBuild& b) { return std::make_unique<MoeRouteOp>(b); }

}  // namespace fathom::cuda
