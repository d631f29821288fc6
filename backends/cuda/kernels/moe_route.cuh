// MoE router selection, from the f32 router logits [T][E] (computed by the exact matmul path):
// scores (sigmoid or softmax, in f64), the correction bias for selection only, group-limited
// selection, top-k in descending order of the biased score with ties to the lower index, and
// the weights (unbiased scores, renormalised when asked, times routed_scaling_factor). The
// semantics are the reference backend's (backends/reference/kernels/moe_route.cpp).
#pragma once

#include <cstdint>

#include "fathom/plugin_api.h"
#include "kernels/moe_dispatch.cuh"
#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

// Limits of this implementation (checked by the op's support query).
constexpr int kRouteMaxExpertsPerLane = 8;  // E <= 8 x warp size
constexpr int kRouteMaxTopK = 32;

struct RouteArgs {
  const float* logits;  // [T][E]
  const float* bias;    // [E] or null
  int32_t* experts;     // [T][K]
  float* weights;       // [T][K]
  int64_t tokens;
  fathom_moe_route_attrs attrs;
};

void launch_moe_route_select(const RouteArgs& args, cudaStream_t stream);

// The selection and the grouping of the chosen pairs by expert (moe_dispatch.cuh) in one
// single-block launch, for up to kRouteDispatchMaxTokens tokens (a warp each in a block of 256
// threads) when the dispatch fits one block: a decode step's router and expert dispatch, fused
// (runtime/fusion.h, FusionKind::route_experts).
constexpr int64_t kRouteDispatchMaxTokens = 256 / FATHOM_WARP_SIZE;
bool route_and_dispatch_in_one_block(int64_t tokens, const fathom_moe_route_attrs& attrs);
void launch_moe_route_dispatch(const RouteArgs& route, const MoeDispatchArgs& dispatch, cudaStream_t stream);

}  // namespace fathom::gpu
