// out[t] = x[t] / sqrt(mean(x[t]²) + eps) ⊙ w. The sum of squares is accumulated in double and
// the normalised value rounded to f32 before the weight multiply, as the reference does, so
// results agree to an ulp or two.
#include <cmath>
#include <vector>

#include "matmul/weight_view.h"
#include "ops/ops.h"
#include "parallel.h"
#include "scratch.h"

namespace fathom::cpu {

namespace {

class RmsNorm final : public sdk::PreparedNode {
 public:
  RmsNorm(CpuContext& ctx, const sdk::PrepareArgs& args) : ctx_(ctx), fmt_(*format_of(args.in[1]->dtype())) {
    eps_ = sdk::KernelArgs{{}, {}, args.op.attrs, args.op.attrs_size}.attrs_as<fathom_rms_norm_attrs>().eps;
    if (args.is_constant(1)) {  // widen the weight once
      w_.resize(static_cast<size_t>(args.in[1]->numel()));
      ctx.isa->widen(fmt_, args.in[1]->data, w_.data(), args.in[1]->numel());
    }
  }

  void run(const sdk::KernelArgs& a) override {
    const int64_t rows = a.in[0]->dim(0), width = a.in[0]->dim(1);
    const float* w = w_.data();
    if (w_.empty()) {
      float* tmp = scratch<float>(Scratch::weights, static_cast<size_t>(width));
      ctx_.isa->widen(fmt_, a.in[1]->data, tmp, width);
      w = tmp;
    }
    const float* x = a.in[0]->as<const float>();
    float* out = a.out[0]->as<float>();
    const IsaKernels& isa = *ctx_.isa;
    const int t = threads_for(ctx_.threads(), static_cast<double>(rows * width), 65536);
    parallel_ranges(rows, t, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const double mean = isa.sum_squares(x + r * width, width) / static_cast<double>(width);
        const float inv = static_cast<float>(1.0 / std::sqrt(mean + eps_));
        isa.scale_mul(x + r * width, inv, w, out + r * width, width);
      }
    });
  }

 private:
  CpuContext& ctx_;
  WFormat fmt_;
  float eps_ = 0;
  std::vector<float> w_;
};

}  // namespace

Prepared prepare_rms_norm(CpuContext& ctx, const sdk::PrepareArgs& args) { return std::make_unique<RmsNorm>(ctx, args); }

}  // namespace fathom::cpu
