#include "kernels/common.cuh"
#include "kernels/moe_sum.cuh"
#include "kernels/norm_rope.cuh"
#include "kernels/rms_norm.cuh"

namespace fathom::gpu {

namespace {

constexpr int kThreads = 256;

// One block per row.
__global__ void rms_norm_kernel(RmsNormArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  const int64_t base = blockIdx.x * a.width, x_base = blockIdx.x * (a.x_ld ? a.x_ld : a.width);
  normalise_row(a, blockIdx.x, [&](int64_t d) {
    float x = load_f32(a.x, a.x_dtype, x_base + d);
    if (a.residual) x += a.residual2 ? a.residual[base + d] + a.residual2[base + d] : a.residual[base + d];
    return x;
  });
}

// One block per token: x = residual + (routed + shared), summed from the pairs' results.
__global__ void moe_sum_rms_norm_kernel(RmsNormArgs a, MoePairSum m) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  const int64_t t = blockIdx.x;
  normalise_row(a, t, [&](int64_t d) { return moe_layer_output(a, m, t, d, [](const float* p) { return *p; }); });
}

}  // namespace

void launch_rms_norm(const RmsNormArgs& args, cudaStream_t stream) {
  if (args.rows <= 0) return;
  FATHOM_LAUNCH(static_cast<unsigned>(args.rows), kThreads, stream, rms_norm_kernel)(args);
}

void launch_moe_sum_rms_norm(const RmsNormArgs& args, const MoePairSum& pairs, cudaStream_t stream) {
  if (args.rows <= 0) return;
  FATHOM_LAUNCH(static_cast<unsigned>(args.rows), kThreads, stream, moe_sum_rms_norm_kernel)(args, pairs);
}

}  // namespace fathom::gpu
