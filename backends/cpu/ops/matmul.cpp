// out[T, N] = x[T, K] · W[N, K]ᵀ (+ block scales): the Matrix chooses GEMV, oneDNN or tiles per
// call (matmul/matrix.h). Weights bound at compile are prepared once and shared through the
// backend's weight cache; a weight bound only at run (never in the DeepSeek graph) is wrapped
// per call without packing.
#include "matmul/matrix.h"
#include "ops/ops.h"

namespace fathom::cpu {

namespace {

class MatmulNode final : public sdk::PreparedNode {
 public:
  MatmulNode(CpuContext& ctx, std::shared_ptr<const Matrix> m) : ctx_(ctx), matrix_(std::move(m)) {}

  void run(const sdk::KernelArgs& a) override {
    const float* x = a.in[0]->as<const float>();
    float* y = a.out[0]->as<float>();
    const int64_t m = a.in[0]->dim(0);
    if (matrix_) {
      matrix_->multiply(ctx_, x, m, y, ctx_.threads());
      return;
    }
    const WeightView w = weight_view(*a.in[1], a.in.size() > 2 ? a.in[2] : nullptr);
    Matrix(ctx_, w, /*prepare=*/false).multiply(ctx_, x, m, y, ctx_.threads());
  }

 private:
  CpuContext& ctx_;
  std::shared_ptr<const Matrix> matrix_;  // null when W is bound at run
};

}  // namespace

std::shared_ptr<const Matrix> prepared_matrix(CpuContext& ctx, const sdk::HostTensor& w, const sdk::HostTensor* scales) {
  const WeightView view = weight_view(w, scales);
  return ctx.weights.matrix(view, [&] { return std::make_shared<const Matrix>(ctx, view); });
}

Prepared prepare_matmul(CpuContext& ctx, const sdk::PrepareArgs& args) {
  const bool scaled = args.in.size() > 2;
  const bool constant = args.is_constant(1) && (!scaled || args.is_constant(2));
  std::shared_ptr<const Matrix> m;
  if (constant) m = prepared_matrix(ctx, *args.in[1], scaled ? args.in[2] : nullptr);
  return std::make_unique<MatmulNode>(ctx, std::move(m));
}

}  // namespace fathom::cpu
