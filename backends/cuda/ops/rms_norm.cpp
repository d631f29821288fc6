// rms_norm (kernels/rms_norm.cu).
#include <optional>

#include "kernels/rms_norm.cuh"
#include "ops/fused.h"
#include "ops/registry.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

class RmsNormOp final : public Op {
 public:
  // `source`: read a slice of wider rows instead of the node's input (FusionKind::sliced_rms_norm).
  explicit RmsNormOp(const OpBuild& b, std::optional<SliceSource> source = std::nullopt)
      : x_(b.inputs[0]), w_(b.inputs[1]), out_(b.outputs[0]), x_desc_(b.desc.inputs[0]), w_dtype_(b.desc.inputs[1].dtype),
        out_dtype_(b.desc.outputs[0].dtype), eps_(attrs_of<fathom_rms_norm_attrs>(b.desc).eps), source_(source) {}

  void launch(const OpRun& r) override {
    gpu::RmsNormArgs a{source_ ? source_->ptr(r) : r.ptr(x_), r.ptr(w_), r.ptr(out_), x_desc_.dtype, w_dtype_, out_dtype_,
                       rows(x_desc_, r.tokens), x_desc_.shape[1], eps_};
    if (source_) a.x_ld = source_->ld;
    gpu::launch_rms_norm(a, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("rms_norm");
  }

 private:
  uint32_t x_, w_, out_;
  fathom_tensor_desc x_desc_;
  uint32_t w_dtype_, out_dtype_;
  float eps_;
  std::optional<SliceSource> source_;
};

}  // namespace

fathom_op_support support_rms_norm(const fathom_op_desc& d) {
  if (!all_float(d.inputs, 2) || !all_float(d.outputs, 1)) return unsupported("rms_norm takes float tensors");
  return preferred();
}

std::unique_ptr<Op> make_rms_norm(const OpBuild& b) { return std::make_unique<RmsNormOp>(b); }

std::unique_ptr<Op> make_sliced_rms_norm(const OpBuild& norm, const SliceSource& source) {
  return std::make_unique<RmsNormOp>(norm, source);
}

}  // namespace fathom::cuda
