// Two products of the same activations, x · W_aᵀ and x · W_bᵀ, in one gemv launch for one or two
// rows (decode): the decode kernel streams W_a's rows and then W_b's as if they were one matrix
// and writes each row to its own output (MatmulProblem::stack_split). DeepSeek's attention starts
// with two such products (q_a or q, and kv_a); one launch instead of two, and the small kv_a
// product shares the launch's blocks instead of leaving most multiprocessors idle on its own.
// More rows run the two nodes' own ops.
#include <algorithm>

#include "kernels/gemv.cuh"
#include "ops/exact_matmul.h"
#include "ops/fallback_op.h"
#include "ops/fused.h"
#include "ops/util.h"

namespace fathom::cuda {

namespace {

class StackedMatmulOp final : public FusedWithFallback {
 public:
  StackedMatmulOp(const OpBuild& a, const OpBuild& b, std::vector<std::unique_ptr<Op>> parts)
      : FusedWithFallback(std::move(parts), a.desc.inputs[0], std::min(a.options.gemv_max_tokens, gpu::kGemvStackMaxRows)),
        x_(a.inputs[0]), y_a_(a.outputs[0]), y_b_(b.outputs[0]), w_dtype_(a.desc.inputs[1].dtype),
        n_a_(a.desc.inputs[1].shape[0]), n_b_(b.desc.inputs[1].shape[0]), k_(a.desc.inputs[1].shape[1]),
        w_a_(MatrixInput::at(a, 1)), w_b_(MatrixInput::at(b, 1)) {}

 private:
  void launch_fused(const OpRun& r, int64_t m) override {
    gpu::MatmulProblem p = dense_problem(w_dtype_, n_a_ + n_b_, k_, m, static_cast<const float*>(r.ptr(x_)),
                                         static_cast<float*>(r.ptr(y_a_)));
    p.ldy = n_a_;
    p.w[0] = w_a_.ref(r);
    p.stack_split = n_a_;
    p.stack_w = w_b_.ref(r);
    p.stack_y = static_cast<float*>(r.ptr(y_b_));
    p.stack_ldy = n_b_;
    WorkspaceCursor ws(r.workspace, r.workspace_bytes);  // the decode kernel takes none
    launch_exact_matmul(p, max_fused_rows(), r, ws);
  }

  uint32_t x_, y_a_, y_b_;
  uint32_t w_dtype_;
  int64_t n_a_, n_b_, k_;
  MatrixInput w_a_, w_b_;
};

}  // namespace

std::unique_ptr<Op> make_stacked_matmul(const OpBuild& a, const OpBuild& b, std::vector<std::unique_ptr<Op>> parts) {
  return std::make_unique<StackedMatmulOp>(a, b, std::move(parts));
}

}  // namespace fathom::cuda
