// A residual add and the RMSNorm of its sum in one kernel (kernels/rms_norm.cu): the sum is
// written as the add would write it, and normalised in the same pass over the row; optionally
// with the add before it whose sum only this add reads (the MoE output plus the shared experts').
// Pays at any row count, so the nodes' own ops are not kept.
#include <optional>

#include "kernels/rms_norm.cuh"
#include "ops/fused.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

class AddRmsNormOp final : public Op {
 public:
  AddRmsNormOp(const OpBuild* inner, const OpBuild& add, const OpBuild& norm)
      : a_(add.inputs[0]), b_(add.inputs[1]), sum_(add.outputs[0]), w_(norm.inputs[1]), out_(norm.outputs[0]),
        x_desc_(norm.desc.inputs[0]), w_dtype_(norm.desc.inputs[1].dtype), out_dtype_(norm.desc.outputs[0].dtype),
        eps_(attrs_of<fathom_rms_norm_attrs>(norm.desc).eps) {
    if (inner) {
      // add(a, inner sum) or add(inner sum, a): a is x, the inner add's operands the residuals.
      if (a_ == inner->outputs[0]) a_ = b_;
      b_ = inner->inputs[0];
      b2_ = inner->inputs[1];
    }
  }

  void launch(const OpRun& r) override {
    gpu::RmsNormArgs a{r.ptr(a_), r.ptr(w_), r.ptr(out_), FATHOM_DTYPE_F32, w_dtype_, out_dtype_,
                       rows(x_desc_, r.tokens), x_desc_.shape[1], eps_};
    a.residual = static_cast<const float*>(r.ptr(b_));
    if (b2_) a.residual2 = static_cast<const float*>(r.ptr(*b2_));
    a.sum = static_cast<float*>(r.ptr(sum_));
    gpu::launch_rms_norm(a, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("add + rms_norm");
  }

 private:
  uint32_t a_, b_, sum_, w_, out_;
  std::optional<uint32_t> b2_;
  fathom_tensor_desc x_desc_;
  uint32_t w_dtype_, out_dtype_;
  float eps_;
};

}  // namespace

std::unique_ptr<Op> make_add_rms_norm(const OpBuild& add, const OpBuild& norm) {
  return std::make_unique<AddRmsNormOp>(nullptr, add, norm);
}

std::unique_ptr<Op> make_add_add_rms_norm(const OpBuild& inner, const OpBuild& add, const OpBuild& norm) {
  return std::make_unique<AddRmsNormOp>(&inner, add, norm);
}

}  // namespace fathom::cuda
