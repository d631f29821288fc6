// RoPE with YaRN frequencies, DeepSeek's interleaved pairs: in each head, (x[o+2i], x[o+2i+1])
// rotate by angle = position · inv_freq_i, with cos and sin times `amplitude`.
//
// The frequencies and angles are formed in f32 exactly as the reference (and the PyTorch
// models) do, so that the angle at position 100k agrees to the bit: the rotation itself is a
// few multiplies per element, not worth vectorising beyond what the compiler does. The
// frequency table depends only on the attributes and is built once at compile; cos/sin of a
// (token, pair) serve every head.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/ops.h"
#include "parallel.h"
#include "scratch.h"

namespace fathom::cpu {

namespace {

std::vector<float> yarn_inverse_frequencies(const fathom_rope_attrs& a) {
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
    const float keep = 1.0f - ramp;
    inv_freq[static_cast<size_t>(i)] = interpolated * (1.0f - keep) + extrapolated * keep;
  }
  return inv_freq;
}

class RopeYarn final : public sdk::PreparedNode {
 public:
  RopeYarn(CpuContext& ctx, const fathom_rope_attrs& a) : ctx_(ctx), a_(a), inv_freq_(yarn_inverse_frequencies(a)) {}

  void run(const sdk::KernelArgs& args) override {
    const float* x = args.in[0]->as<const float>();
    const int32_t* positions = args.in[1]->as<const int32_t>();
    float* out = args.out[0]->as<float>();
    const int64_t rows = args.in[0]->dim(0), width = args.in[0]->dim(1), heads = width / a_.head_dim;
    const int half = a_.rope_dim / 2;
    const int t = threads_for(ctx_.threads(), static_cast<double>(rows * width), 32768);
    parallel_ranges(rows, t, 1, [&](int64_t r0, int64_t r1) {
      double* cs = scratch<double>(Scratch::attention, static_cast<size_t>(2 * half));
      for (int64_t r = r0; r < r1; ++r) {
        const float pos = static_cast<float>(positions[r]);
        for (int i = 0; i < half; ++i) {
          const float angle = pos * inv_freq_[static_cast<size_t>(i)];
          cs[2 * i] = std::cos(static_cast<double>(angle)) * a_.amplitude;
          cs[2 * i + 1] = std::sin(static_cast<double>(angle)) * a_.amplitude;
        }
        const float* src = x + r * width;
        float* dst = out + r * width;
        if (dst != src) std::memcpy(dst, src, static_cast<size_t>(width) * sizeof(float));
        for (int64_t h = 0; h < heads; ++h) {
          float* p = dst + h * a_.head_dim + a_.rope_offset;
          for (int i = 0; i < half; ++i) {
            const double x0 = p[2 * i], x1 = p[2 * i + 1], c = cs[2 * i], s = cs[2 * i + 1];
            p[2 * i] = static_cast<float>(x0 * c - x1 * s);
            p[2 * i + 1] = static_cast<float>(x0 * s + x1 * c);
          }
        }
      }
    });
  }

 private:
  CpuContext& ctx_;
  fathom_rope_attrs a_;
  std::vector<float> inv_freq_;
};

}  // namespace

Prepared prepare_rope_yarn(CpuContext& ctx, const sdk::PrepareArgs& args) {
  const auto a = sdk::KernelArgs{{}, {}, args.op.attrs, args.op.attrs_size}.attrs_as<fathom_rope_attrs>();
  return std::make_unique<RopeYarn>(ctx, a);
}

}  // namespace fathom::cpu
