// The arithmetic of rms_norm and rope_yarn, shared by their own kernels and by the kernels that
// do the same steps on the way (MLA's q-absorption kernel, which normalises and rotates the
// cache row it writes), so that a fused run of nodes gives the bits the nodes' kernels give.
#pragma once

#include "kernels/common.cuh"

namespace fathom::gpu {

// 1 / sqrt(mean of squares + eps), from the row's sum of squares taken in f64.
FATHOM_DEVICE float rms_inverse(double sum_sq, int64_t width, float eps) {
  return static_cast<float>(1.0 / sqrt(sum_sq / static_cast<double>(width) + eps));
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
