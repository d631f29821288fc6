// The arithmetic of rms_norm and rope_yarn, shared by their own kernels and by the kernels that
// do the same steps on the way (MLA's q-absorption kernel, which normalises and rotates the
// cache row it writes), so that a fused run of nodes gives the bits the nodes' kernels give.
#pragma once

#include "kernels/common.cuh"
#include "kernels/rms_norm.cuh"

namespace fathom::gpu {

// 1 / sqrt(mean of squares + eps), from the row's sum of squares taken in f64.
FATHOM_DEVICE float rms_inverse(double sum_sq, int64_t width, float eps) {
  return static_cast<float>(1.0 / sqrt(sum_sq / static_cast<double>(width) + eps));
}

// Normalises row `row` of a (out[row] = x / rms(x) * w), whose element d is value(d), with the
// block's threads (any count up to 1024). With a.sum set the values are written there as well (the
// sum a fused add produces) and read back from there for the second pass. The row is read twice
// (sum of squares, then scale); rows of DeepSeek models (<= 7168 f32) stay in L1/L2 between the
// passes.
template <typename Value>
FATHOM_DEVICE void normalise_row(const RmsNormArgs& a, int64_t row, Value value) {
  __shared__ double scratch[1024 / FATHOM_WARP_SIZE];
  const int64_t base = row * a.width;
  double sum_sq = 0;
  for (int64_t d = threadIdx.x; d < a.width; d += blockDim.x) {
    const float x = value(d);
    if (a.sum) a.sum[base + d] = x;
    const double v = x;
    sum_sq += v * v;
  }
  sum_sq = block_sum(sum_sq, scratch);
  const float inv_rms = rms_inverse(sum_sq, a.width, a.eps);
  for (int64_t d = threadIdx.x; d < a.width; d += blockDim.x) {
    // A sum was written by this same thread above.
    const float x = a.sum ? a.sum[base + d] : value(d);
    const float normed = x * inv_rms;
    store_f32(a.out, a.out_dtype, base + d, normed * load_f32(a.w, a.w_dtype, d));
  }
}

// One rotated pair (x0, x1) at position `pos`: the angle is formed in f32 (pos * inv_freq, as
// every reference implementation does) and its cos/sin taken in f64, since angles reach
// thousands of radians, where f32 sin/cos lose digits.
FATHOM_DEVICE void rope_rotate(float pos, float inv_freq, float amplitude, double x0, double x1, float& y0, float& y1) {
  const float angle = pos * inv_freq;
  double s, c;
  sincos(static_cast<double>(angle), &s, &c);
  c *= amplitude;
  s *= amplitude;
  y0 = static_cast<float>(x0 * c - x1 * s);
  y1 = static_cast<float>(x0 * s + x1 * c);
}

}  // namespace fathom::gpu
