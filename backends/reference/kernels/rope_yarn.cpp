// RoPE with YaRN frequencies (spec §2.3), DeepSeek's interleaved-pair convention (official
// inference/model.py apply_rotary_emb): in every head, pairs (x[o+2i], x[o+2i+1]) rotate by
//   angle = position · inv_freq_i,   y0 = x0·cos − x1·sin,   y1 = x0·sin + x1·cos,
// with cos and sin multiplied by `amplitude`. inv_freq follows the YaRN ramp between the
// correction range [low, high] computed from original_max_positions (not max_position_embeddings:
// pitfall 3). Angles are formed in f32, as every reference implementation does.
#include <algorithm>
#include <cmath>
#include <vector>

#include "fathom/sdk/yarn.hpp"
#include "kernels/kernels.h"

namespace fathom::reference {

void rope_yarn(const KernelArgs& args) {
  const auto& x = *args.in[0];
  const auto& positions = *args.in[1];
  const auto& out = *args.out[0];
  const auto a = args.attrs_as<fathom_rope_attrs>();
  const std::vector<float> inv_freq = sdk::yarn_inverse_frequencies(a);
  const int64_t rows = x.dim(0), width = x.dim(1), heads = width / a.head_dim;

  for (int64_t t = 0; t < rows; ++t) {
    const float pos = static_cast<float>(positions.as<const int32_t>()[t]);
    for (int64_t i = 0; i < width; ++i) store_f32(out, t * width + i, load_f32(x, t * width + i));
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t base = t * width + h * a.head_dim + a.rope_offset;
      for (int i = 0; i < a.rope_dim / 2; ++i) {
        const float angle = pos * inv_freq[static_cast<size_t>(i)];
        const double c = std::cos(static_cast<double>(angle)) * a.amplitude;
        const double s = std::sin(static_cast<double>(angle)) * a.amplitude;
        const double x0 = load_f32(x, base + 2 * i), x1 = load_f32(x, base + 2 * i + 1);
        store_f32(out, base + 2 * i, static_cast<float>(x0 * c - x1 * s));
        store_f32(out, base + 2 * i + 1, static_cast<float>(x0 * s + x1 * c));
      }
    }
  }
}

}  // namespace fathom::reference
