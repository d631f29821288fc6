// slice, concat and convert: 2-D copies with dtype conversion (kernels/copy.cu).
#include "kernels/copy.cuh"
#include "ops/registry.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

// One or two strided copies from inputs into the output.
class CopyOp final : public Op {
 public:
  struct Part {
    uint32_t src;
    uint32_t src_dtype;
    int64_t width, src_stride, src_offset, dst_offset;
  };
  CopyOp(const OpBuild& b, std::vector<Part> parts, int64_t dst_stride, bool flat)
      : parts_(std::move(parts)), out_(b.outputs[0]), out_desc_(b.desc.outputs[0]), dst_stride_(dst_stride),
        flat_(flat) {}

  void launch(const OpRun& r) override {
    for (const Part& p : parts_) {
      gpu::CopyArgs a{};
      a.src = r.ptr(p.src);
      a.dst = r.ptr(out_);
      a.src_dtype = p.src_dtype;
      a.dst_dtype = out_desc_.dtype;
      // convert: the whole tensor as one row; slice/concat: row by row.
      a.rows = flat_ ? 1 : rows(out_desc_, r.tokens);
      a.width = flat_ ? sdk::element_count(out_desc_, r.tokens) : p.width;
      a.src_stride = p.src_stride;
      a.src_offset = p.src_offset;
      a.dst_stride = dst_stride_;
      a.dst_offset = p.dst_offset;
      gpu::launch_copy(a, r.stream);
      FATHOM_CUDA_CHECK_LAUNCH("copy");
    }
  }

 private:
  std::vector<Part> parts_;
  uint32_t out_;
  fathom_tensor_desc out_desc_;
  int64_t dst_stride_;
  bool flat_;
};

}  // namespace

fathom_op_support support_copy(const fathom_op_desc& d) {
  if (!all_float(d.inputs, d.n_inputs) || !all_float(d.outputs, 1)) return unsupported("copies take float tensors");
  for (uint32_t i = 0; i < d.n_inputs; ++i) {
    if (d.inputs[i].layout != FATHOM_LAYOUT_DENSE) return unsupported("copies take dense tensors");
  }
  return preferred();
}

std::unique_ptr<Op> make_slice(const OpBuild& b) {
  const auto a = attrs_of<fathom_slice_attrs>(b.desc);
  const int64_t in_width = b.desc.inputs[0].shape[1];
  return std::make_unique<CopyOp>(
      b, std::vector<CopyOp::Part>{{b.inputs[0], b.desc.inputs[0].dtype, a.length, in_width, a.begin, 0}}, a.length, false);
}

std::unique_ptr<Op> make_concat(const OpBuild& b) {
  const int64_t wa = b.desc.inputs[0].shape[1], wb = b.desc.inputs[1].shape[1];
  return std::make_unique<CopyOp>(b,
                                  std::vector<CopyOp::Part>{{b.inputs[0], b.desc.inputs[0].dtype, wa, wa, 0, 0},
                                                            {b.inputs[1], b.desc.inputs[1].dtype, wb, wb, 0, wa}},
                                  wa + wb, false);
}

std::unique_ptr<Op> make_convert(const OpBuild& b) {
  return std::make_unique<CopyOp>(b, std::vector<CopyOp::Part>{{b.inputs[0], b.desc.inputs[0].dtype, 0, 0, 0, 0}}, 0, true);
}

}  // namespace fathom::cuda
