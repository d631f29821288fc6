#include "kernels/common.cuh"
#include "kernels/norm_rope.cuh"
#include "kernels/rms_norm.cuh"

namespace fathom::gpu {

namespace {

constexpr int kThreads = 256;

// Normalises row blockIdx.x, whose element d is value(d); with a.sum set the values are written
// there as well (the sum a fused add produces), and read back from there for the second pass.
// The row is read twice (sum of squares, then scale); rows of DeepSeek models (<= 7168 f32)
// stay in L1/L2 between the two passes.
template <typename Value>
FATHOM_DEVICE void normalise_row(const RmsNormArgs& a, Value value) {
  __shared__ double scratch[kThreads / 32];
  const int64_t base = blockIdx.x * a.width;
  double sum_sq = 0;
  for (int64_t d = threadIdx.x; d < a.width; d += kThreads) {
    const float x = value(d);
    if (a.sum) a.sum[base + d] = x;
    const double v = x;
    sum_sq += v * v;
  }
  sum_sq = block_sum(sum_sq, scratch);
  const float inv_rms = rms_inverse(sum_sq, a.width, a.eps);
  for (int64_t d = threadIdx.x; d < a.width; d += kThreads) {
    // A sum was written by this same thread above.
    const float x = a.sum ? a.sum[base + d] : value(d);
    const float normed = x * inv_rms;
    store_f32(a.out, a.out_dtype, base + d, normed * load_f32(a.w, a.w_dtype, d));
  }
}

// One block per row.
__global__ void rms_norm_kernel(RmsNormArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  const int64_t base = blockIdx.x * a.width, x_base = blockIdx.x * (a.x_ld ? a.x_ld : a.width);
  normalise_row(a, [&](int64_t d) {
    float x = load_f32(a.x, a.x_dtype, x_base + d);
    if (a.residual) x += a.residual2 ? a.residual[base + d] + a.residual2[base + d] : a.residual[base + d];
    return x;
  });
}

// One block per token: x = residual + (routed + shared), summed from the pairs' results.
__global__ void moe_sum_rms_norm_kernel(RmsNormArgs a, MoePairSum m) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  const int64_t t = blockIdx.x, base = t * a.width;
  const int64_t first_pair = t * (m.top_k + m.shared_groups);
  normalise_row(a, [&](int64_t d) {
    float routed = 0.f, shared = 0.f;
    for (int k = 0; k < m.top_k; ++k) {
      const int32_t e = m.experts[t * m.top_k + k];
      if (e >= 0 && e < m.n_experts) routed += m.y_pairs[(first_pair + k) * a.width + d];
    }
    for (int s = 0; s < m.shared_groups; ++s) shared += m.y_pairs[(first_pair + m.top_k + s) * a.width + d];
    return a.residual[base + d] + (routed + shared);
  });
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
