// YaRN inverse frequencies (spec §2.3) from a rope_yarn op's attributes, shared by every
// backend so that the table a rotation uses has one definition: backends differ in how they
// rotate, not in which angles they rotate by.
//
// inv_freq_i blends the original frequency base^(-2i/dim) with the interpolated one (divided by
// yarn_factor) along a linear ramp over the correction range [low, high], which comes from
// original_max_positions, not max_position_embeddings (spec pitfall 3). Frequencies are rounded
// to f32 exactly as the PyTorch references do, so that angles at large positions agree to the bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "fathom/plugin_api.h"

namespace fathom::sdk {

inline std::vector<float> yarn_inverse_frequencies(const fathom_rope_attrs& a) {
  const int half = a.rope_dim / 2;
  const double dim = a.rope_dim, base = a.theta;
  std::vector<float> inv_freq(static_cast<size_t>(half));
  double low = 0, high = 0;
  const bool yarn = a.yarn_factor > 1.0f;
  if (yarn) {
    auto correction_dim = [&](double rotations) {
      return dim * std::log(a.original_max_positions / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
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
    const float keep = 1.0f - ramp;  // 1: the original frequency, 0: divided by the factor
    inv_freq[static_cast<size_t>(i)] = interpolated * (1.0f - keep) + extrapolated * keep;
  }
  return inv_freq;
}

}  // namespace fathom::sdk
