// silu(x · W_gateᵀ) ⊙ (x · W_upᵀ) in one gemv launch for the rows the gemv kernel takes (decode),
// instead of two products and an element-wise kernel: both matrices are streamed by the same
// blocks and the SwiGLU is the epilogue (in f64, as silu_mul computes it). More rows run the
// three nodes' own ops, which may use cuBLAS.
#include <algorithm>

#include "kernels/gemv.cuh"
#include "ops/exact_matmul.h"
#include "ops/fallback_op.h"
#include "ops/fused.h"
#include "ops/util.h"

namespace fathom::cuda {

namespace {

class SwigluMatmulOp final : public FusedWithFallback {
 public:
  SwigluMatmulOp(const OpBuild& gate, const OpBuild& up, const OpBuild& act, std::vector<std::unique_ptr<Op>> parts)
      : FusedWithFallback(std::move(parts), gate.desc.inputs[0], std::min(gate.options.gemv_max_tokens, gpu::kGemvMaxRows)),
        x_(gate.inputs[0]), y_(act.outputs[0]), w_dtype_(gate.desc.inputs[1].dtype), n_(gate.desc.inputs[1].shape[0]),
        k_(gate.desc.inputs[1].shape[1]), gate_(MatrixInput::at(gate, 1)), up_(MatrixInput::at(up, 1)) {
    const int64_t rows = std::min(gate.max_rows(0), max_fused_rows());
    if (rows > 0)
      fused_workspace_ = exact_matmul_workspace(problem(rows, nullptr, nullptr), max_fused_rows(), gate.device.sm_count());
  }

 private:
  void launch_fused(const OpRun& r, int64_t m) override {
    gpu::MatmulProblem p = problem(m, static_cast<const float*>(r.ptr(x_)), static_cast<float*>(r.ptr(y_)));
    p.w[0] = gate_.ref(r);
    p.w[1] = up_.ref(r);
    WorkspaceCursor ws(r.workspace, r.workspace_bytes);
    launch_exact_matmul(p, max_fused_rows(), r, ws);
  }

  gpu::MatmulProblem problem(int64_t m, const float* x, float* y) const {
    gpu::MatmulProblem p = dense_problem(w_dtype_, n_, k_, m, x, y);
    p.epilogue = gpu::Epilogue::swiglu;
    return p;
  }

  uint32_t x_, y_;
  uint32_t w_dtype_;
  int64_t n_, k_;
  MatrixInput gate_, up_;
};

}  // namespace

std::unique_ptr<Op> make_swiglu_matmul(const OpBuild& gate, const OpBuild& up, const OpBuild& act,
                                       std::vector<std::unique_ptr<Op>> parts) {
  return std::make_unique<SwigluMatmulOp>(gate, up, act, std::move(parts));
}

}  // namespace fathom::cuda
