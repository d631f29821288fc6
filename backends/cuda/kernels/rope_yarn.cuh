// Rotary embedding with YaRN frequencies, DeepSeek's interleaved pairs: in each head of x, the
// pairs (x[o + 2i], x[o + 2i + 1]) rotate by pos * inv_freq[i]; everything else is copied.
//
// inv_freq depends only on the attributes, so the host computes it once per node, with the
// reference backend's arithmetic (f32 values from f64 formulas), and the kernel reads a table.
// The angle is formed in f32 (pos * inv_freq, as every reference implementation does) and its
// cos/sin are taken in f64: angles reach thousands of radians, where f32 sin/cos lose digits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fathom/plugin_api.h"
#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

struct RopeArgs {
  const void* x;
  const int32_t* positions;
  const float* inv_freq;  // [rope_dim / 2], device
  void* out;
  uint32_t x_dtype, out_dtype;
  int64_t rows, width;  // width = heads * head_dim
  int32_t head_dim, rope_offset, rope_dim;
  float amplitude;
};

void launch_rope_yarn(const RopeArgs& args, cudaStream_t stream);

// The YaRN inverse frequencies of spec §2.3 (the correction range from original_max_positions).
inline std::vector<float> yarn_inverse_frequencies(const fathom_rope_attrs& a) {
  const int half = a.rope_dim / 2;
  const double dim = a.rope_dim, base = a.theta;
  std::vector<float> inv_freq(static_cast<size_t>(half));
  double low = 0, high = 0;
  const bool yarn = a.yarn_factor > 1.0f;
  if (yarn) {
    auto correction_dim = [&](double rotations) {
      return dim * std::log(a.original_max_positions / (rotations * 2 * M_PI)) / (2 * std::log(base));
    };
    low = std::max(std::floor(correction_dim(a.beta_fast)), 0.0);
    high = std::min(std::ceil(correction_dim(a.beta_slow)), dim - 1);
    if (low == high) high += 0.001;  // a zero-width ramp would divide by zero
  }
  for (int i = 0; i < half; ++i) {
    const float pos_freq = static_cast<float>(std::pow(base, (2.0 * i) / dim));
    const float extrapolated = 1.0f / pos_freq;
    if (!yarn) {
      inv_freq[static_cast<size_t>(i)] = extrapolated;
      continue;
    }
    const float interpolated = 1.0f / (a.yarn_factor * pos_freq);
    const float ramp = static_cast<float>(std::clamp((i - low) / (high - low), 0.0, 1.0));
    const float keep = 1.0f - ramp;  // 1: original frequency, 0: divided by the factor
    inv_freq[static_cast<size_t>(i)] = interpolated * (1.0f - keep) + extrapolated * keep;
  }
  return inv_freq;
}

}  // namespace fathom::gpu
