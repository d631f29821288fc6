// rope_yarn (kernels/rope_yarn.cu); the YaRN frequency table is built here once per node.
#include <optional>

#include "fathom/sdk/yarn.hpp"
#include "kernels/rope_yarn.cuh"
#include "ops/fused.h"
#include "ops/registry.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

class RopeOp final : public Op {
 public:
  // `source`: read a slice of wider rows instead of the node's input (FusionKind::sliced_rope).
  explicit RopeOp(const OpBuild& b, std::optional<SliceSource> source = std::nullopt)
      : x_(b.inputs[0]), pos_(b.inputs[1]), out_(b.outputs[0]), x_desc_(b.desc.inputs[0]),
        out_dtype_(b.desc.outputs[0].dtype), attrs_(attrs_of<fathom_rope_attrs>(b.desc)), source_(source) {
    const std::vector<float> inv_freq = sdk::yarn_inverse_frequencies(attrs_);
    inv_freq_ = static_cast<const float*>(b.memory.upload(inv_freq.data(), inv_freq.size() * sizeof(float)));
  }

  void launch(const OpRun& r) override {
    gpu::RopeArgs a{source_ ? source_->ptr(r) : r.ptr(x_), static_cast<const int32_t*>(r.ptr(pos_)), inv_freq_, r.ptr(out_), x_desc_.dtype, out_dtype_,
                    rows(x_desc_, r.tokens), x_desc_.shape[1], attrs_.head_dim, attrs_.rope_offset, attrs_.rope_dim,
                    attrs_.amplitude};
    if (source_) a.x_ld = source_->ld;
    gpu::launch_rope_yarn(a, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("rope_yarn");
  }

 private:
  uint32_t x_, pos_, out_;
  fathom_tensor_desc x_desc_;
  uint32_t out_dtype_;
  fathom_rope_attrs attrs_;
  const float* inv_freq_ = nullptr;
  std::optional<SliceSource> source_;
};

}  // namespace

fathom_op_support support_rope_yarn(const fathom_op_desc& d) {
  if (!sdk::is_float_dtype(d.inputs[0].dtype) || !all_float(d.outputs, 1)) return unsupported("rope_yarn rotates float tensors");
  return preferred();
}

std::unique_ptr<Op> make_rope_yarn(const OpBuild& b) { return std::make_unique<RopeOp>(b); }

std::unique_ptr<Op> make_sliced_rope(const OpBuild& rope, const SliceSource& source) {
  return std::make_unique<RopeOp>(rope, source);
}

}  // namespace fathom::cuda
