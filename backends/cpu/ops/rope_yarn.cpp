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

#include "fathom/sdk/yarn.hpp"
#include "ops/ops.h"
#include "parallel.h"
#include "scratch.h"

namespace fathom::cpu {

namespace {

class RopeYarn final : public sdk::PreparedNode {
 public:
  RopeYarn(CpuContext& ctx, const fathom_rope_attrs& a) : ctx_(ctx), a_(a), inv_freq_(sdk::yarn_inverse_frequencies(a)) {}

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
