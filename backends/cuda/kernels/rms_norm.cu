#include "kernels/common.cuh"
#include "kernels/norm_rope.cuh"
#include "kernels/rms_norm.cuh"

namespace fathom::gpu {

namespace {

constexpr int kThreads = 256;

// One block per row. The row is read twice (sum of squares, then scale); rows of DeepSeek
// models (<= 7168 f32) stay in L1/L2 between the two passes.
__global__ void rms_norm_kernel(RmsNormArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  __shared__ double scratch[kThreads / 32];
  const int64_t base = blockIdx.x * a.width, x_base = blockIdx.x * (a.x_ld ? a.x_ld : a.width);
  double sum_sq = 0;
  for (int64_t d = threadIdx.x; d < a.width; d += kThreads) {
    float x = load_f32(a.x, a.x_dtype, x_base + d);
    if (a.residual) {
      x += a.residual2 ? a.residual[base + d] + a.residual2[base + d] : a.residual[base + d];
      a.sum[base + d] = x;
    }
    const double v = x;
    sum_sq += v * v;
  }
  sum_sq = block_sum(sum_sq, scratch);
  const float inv_rms = rms_inverse(sum_sq, a.width, a.eps);
  for (int64_t d = threadIdx.x; d < a.width; d += kThreads) {
    // The sum was written by this same thread above.
    const float x = a.residual ? a.sum[base + d] : load_f32(a.x, a.x_dtype, x_base + d);
    const float normed = x * inv_rms;
    store_f32(a.out, a.out_dtype, base + d, normed * load_f32(a.w, a.w_dtype, d));
  }
}

}  // namespace

void launch_rms_norm(const RmsNormArgs& args, cudaStream_t stream) {
  if (args.rows <= 0) return;
  FATHOM_LAUNCH(static_cast<unsigned>(args.rows), kThreads, stream, rms_norm_kernel)(args);
}

}  // namespace fathom::gpu
