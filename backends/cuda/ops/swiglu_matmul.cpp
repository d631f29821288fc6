// silu(x · W_gateᵀ) ⊙ (x · W_upᵀ) in one gemv launch for the rows the gemv kernel takes (decode),
// instead of two products and an element-wise kernel: both matrices are streamed by the same
// blocks and the SwiGLU is the epilogue (in f64, as silu_mul computes it). More rows run the
// three nodes' own ops, which may use cuBLAS.
#include <algorithm>

#include "kernels/gemv.cuh"
#include "ops/exact_matmul.h"
#include "ops/fused.h"
#include "ops/util.h"

namespace fathom::cuda {

namespace {

class SwigluMatmulOp final : public Op {
 public:
  SwigluMatmulOp(const OpBuild& gate, const OpBuild& up, const OpBuild& act, std::vector<std::unique_ptr<Op>> parts)
      : parts_(std::move(parts)), x_(gate.inputs[0]), y_(act.outputs[0]), x_desc_(gate.desc.inputs[0]),
        w_dtype_(gate.desc.inputs[1].dtype), n_(gate.desc.inputs[1].shape[0]), k_(gate.desc.inputs[1].shape[1]),
        gemv_rows_(std::min(gate.options.gemv_max_tokens, gpu::kGemvMaxRows)), gate_(MatrixInput::at(gate, 1)),
        up_(MatrixInput::at(up, 1)) {
    for (const auto& op : parts_) workspace_ = std::max(workspace_, op->workspace_bytes());
    const int64_t rows = std::min(gate.max_rows(0), gemv_rows_);
    if (rows > 0) workspace_ = std::max(workspace_, exact_matmul_workspace(problem(rows, nullptr, nullptr), gemv_rows_,
                                                                             gate.device.sm_count()));
  }

  size_t workspace_bytes() const override { return workspace_; }

  void launch(const OpRun& r) override {
    const int64_t m = rows(x_desc_, r.tokens);
    if (m == 0) return;
    if (m > gemv_rows_) {
      for (auto& op : parts_) op->launch(r);
      return;
    }
    gpu::MatmulProblem p = problem(m, static_cast<const float*>(r.ptr(x_)), static_cast<float*>(r.ptr(y_)));
    p.w[0] = gate_.ref(r);
    p.w[1] = up_.ref(r);
    WorkspaceCursor ws(r.workspace, r.workspace_bytes);
    launch_exact_matmul(p, gemv_rows_, r, ws);
  }

 private:
  gpu::MatmulProblem problem(int64_t m, const float* x, float* y) const {
    gpu::MatmulProblem p = dense_problem(w_dtype_, n_, k_, m, x, y);
    p.epilogue = gpu::Epilogue::swiglu;
    return p;
  }

  std::vector<std::unique_ptr<Op>> parts_;
  uint32_t x_, y_;
  fathom_tensor_desc x_desc_;
  uint32_t w_dtype_;
  int64_t n_, k_, gemv_rows_;
  MatrixInput gate_, up_;
  size_t workspace_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_swiglu_matmul(const OpBuild& gate, const OpBuild& up, const OpBuild& act,
                                       std::vector<std::unique_ptr<Op>> parts) {
  return std::make_unique<SwigluMatmulOp>(gate, up, act, std::move(parts));
}

}  // namespace fathom::cuda
