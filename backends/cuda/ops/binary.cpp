// add and silu_mul (kernels/binary.cu).
#include "kernels/binary.cuh"
#include "ops/registry.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

class BinaryOp final : public Op {
 public:
  using Launcher = void (*)(const gpu::BinaryArgs&, cudaStream_t);
  BinaryOp(const OpBuild& b, Launcher launcher, const char* what)
      : launcher_(launcher), what_(what), a_(b.inputs[0]), b_(b.inputs[1]), out_(b.outputs[0]),
        a_desc_(b.desc.inputs[0]), b_dtype_(b.desc.inputs[1].dtype), out_dtype_(b.desc.outputs[0].dtype) {}

  void launch(const OpRun& r) override {
    gpu::BinaryArgs args{r.ptr(a_), r.ptr(b_), r.ptr(out_), a_desc_.dtype, b_dtype_, out_dtype_,
                         sdk::element_count(a_desc_, r.tokens)};
    launcher_(args, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH(what_);
  }

 private:
  Launcher launcher_;
  const char* what_;
  uint32_t a_, b_, out_;
  fathom_tensor_desc a_desc_;
  uint32_t b_dtype_, out_dtype_;
};

}  // namespace

fathom_op_support support_binary(const fathom_op_desc& d) {
  if (!all_float(d.inputs, 2) || !all_float(d.outputs, 1)) return unsupported("element-wise ops take float tensors");
  return preferred();
}

std::unique_ptr<Op> make_add(const OpBuild& b) { return std::make_unique<BinaryOp>(b, gpu::launch_add, "add"); }
std::unique_ptr<Op> make_silu_mul(const OpBuild& b) {
  return std::make_unique<BinaryOp>(b, gpu::launch_silu_mul, "silu_mul");
}

}  // namespace fathom::cuda
