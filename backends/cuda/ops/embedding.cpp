// embedding (kernels/embedding.cu).
#include "kernels/embedding.cuh"
#include "ops/registry.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

class EmbeddingOp final : public Op {
 public:
  explicit EmbeddingOp(const OpBuild& b)
      : ids_(b.inputs[0]), table_(b.inputs[1]), out_(b.outputs[0]), table_desc_(b.desc.inputs[1]),
        out_desc_(b.desc.outputs[0]) {}

  void launch(const OpRun& r) override {
    gpu::EmbeddingArgs a{static_cast<const int32_t*>(r.ptr(ids_)), r.ptr(table_), r.ptr(out_), table_desc_.dtype,
                         out_desc_.dtype, rows(out_desc_, r.tokens), table_desc_.shape[0], table_desc_.shape[1], r.error};
    gpu::launch_embedding(a, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("embedding");
  }

 private:
  uint32_t ids_, table_, out_;
  fathom_tensor_desc table_desc_, out_desc_;
};

}  // namespace

fathom_op_support support_embedding(const fathom_op_desc& d) {
  if (!sdk::is_float_dtype(d.inputs[1].dtype) || !all_float(d.outputs, 1))
    return unsupported("embedding table and output must be float");
  return preferred();
}

std::unique_ptr<Op> make_embedding(const OpBuild& b) { return std::make_unique<EmbeddingOp>(b); }

}  // namespace fathom::cuda
