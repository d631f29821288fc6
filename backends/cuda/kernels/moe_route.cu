// The selection kernels: a warp per token (kernels/moe_route_select.cuh).
#include "kernels/moe_route_select.cuh"

namespace fathom::gpu {

namespace {

constexpr int kWarpsPerBlock = 4;

__global__ void route_kernel(RouteArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  const int64_t t = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / FATHOM_WARP_SIZE;
  if (t < a.tokens) route_detail::select_for_token(a, t);  // whole warps
}

// A warp per token selects, then the block groups the pairs by expert: one launch for what is
// otherwise the selection kernel and the single-block dispatch kernel.
__global__ void route_dispatch_kernel(RouteArgs a, MoeDispatchArgs d) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  route_and_dispatch_in_block(a, d);
}

}  // namespace

bool route_and_dispatch_in_one_block(int64_t tokens, const fathom_moe_route_attrs& attrs) {
  return tokens <= kRouteDispatchMaxTokens && moe_dispatch_in_one_block(tokens * attrs.top_k, attrs.n_experts);
}

void launch_moe_route_dispatch(const RouteArgs& route, const MoeDispatchArgs& dispatch, cudaStream_t stream) {
  if (route.tokens <= 0) return;
  FATHOM_LAUNCH(1, kDispatchBlockThreads, stream, route_dispatch_kernel)(route, dispatch);
}

void launch_moe_route_select(const RouteArgs& args, cudaStream_t stream) {
  if (args.tokens <= 0) return;
  const unsigned blocks = static_cast<unsigned>((args.tokens + kWarpsPerBlock - 1) / kWarpsPerBlock);
  FATHOM_LAUNCH(blocks, kWarpsPerBlock * FATHOM_WARP_SIZE, stream, route_kernel)(args);
}

}  // namespace fathom::gpu
