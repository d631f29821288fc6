// matmul on HIP: y[T, N] = x[T, K] · W[N, K]ᵀ. Debian's ROCm has no rocBLAS/hipBLAS, so every
// product takes the shared exact kernels (ops/exact_matmul.cpp): the weight-streaming gemv up to
// gemv_max_tokens rows, the tiled shared-memory GEMM beyond. This file replaces the CUDA
// backend's ops/matmul.cpp, whose large-M paths are cuBLAS and cuBLASLt.
//
// Weights bound at compile are read as weight_store.cpp holds them (FP8 widened to bf16);
// a weight that arrives only at run time is read as given (the kernels decode FP8 in software).
#include "ops/exact_matmul.h"
#include "ops/registry.h"
#include "ops/util.h"
#include "ops/weight_store.h"

namespace fathom::cuda {

namespace {

class HipMatmulOp final : public Op {
 public:
  explicit HipMatmulOp(const OpBuild& b)
      : x_(b.inputs[0]), y_(b.outputs[0]), x_desc_(b.desc.inputs[0]), n_(b.desc.inputs[1].shape[0]),
        k_(b.desc.inputs[1].shape[1]), gemv_rows_(b.options.gemv_max_tokens) {
    const bool scaled = b.desc.inputs[1].layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128;
    bound_ = b.is_constant(1) && (!scaled || b.is_constant(2));
    if (bound_) {
      stored_ = store_matrix(b, 1);
    } else {
      stored_.dtype = b.desc.inputs[1].dtype;
      late_ = MatrixInput::at(b, 1);
    }
    workspace_ = exact_matmul_workspace(dense_problem(stored_.dtype, n_, k_, b.max_rows(0), nullptr, nullptr), gemv_rows_,
                                        b.device.sm_count());
  }

  size_t workspace_bytes() const override { return workspace_; }

  void launch(const OpRun& r) override {
    const int64_t m = rows(x_desc_, r.tokens);
    if (m == 0) return;
    gpu::MatmulProblem p =
        dense_problem(stored_.dtype, n_, k_, m, static_cast<const float*>(r.ptr(x_)), static_cast<float*>(r.ptr(y_)));
    p.w[0] = bound_ ? stored_.ref : late_.ref(r);
    WorkspaceCursor ws(r.workspace, r.workspace_bytes);
    launch_exact_matmul(p, gemv_rows_, r, ws);
  }

 private:
  uint32_t x_, y_;
  fathom_tensor_desc x_desc_;
  int64_t n_, k_, gemv_rows_;
  bool bound_ = false;
  StoredMatrix stored_;
  MatrixInput late_;
  size_t workspace_ = 0;
};

}  // namespace

fathom_op_support support_matmul(const fathom_op_desc& d) {
  if (!is_f32(d.inputs[0]) || !is_f32(d.outputs[0])) return unsupported("matmul on hip takes and gives f32 activations");
  if (!sdk::is_float_dtype(d.inputs[1].dtype)) return unsupported("matmul weights must be float");
  return weight_support(d.inputs[1]);
}

std::unique_ptr<Op> make_matmul(const OpBuild& b) { return std::make_unique<HipMatmulOp>(b); }

}  // namespace fathom::cuda
