// moe_route: the router logits by the exact product (selection must not depend on rounding the
// activations), then the selection kernel (kernels/moe_route.cu).
#include "kernels/moe_route.cuh"
#include "ops/exact_matmul.h"
#include "ops/registry.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

class MoeRouteOp final : public Op {
 public:
  explicit MoeRouteOp(const OpBuild& b)
      : x_(b.inputs[0]), experts_(b.outputs[0]), weights_(b.outputs[1]), x_desc_(b.desc.inputs[0]),
        attrs_(attrs_of<fathom_moe_route_attrs>(b.desc)), gate_(MatrixInput::at(b, 1)), gate_dtype_(b.desc.inputs[1].dtype),
        gemv_rows_(b.options.gemv_max_tokens) {
    if (attrs_.has_bias) bias_ = b.inputs[2];
    const int64_t max_rows = b.max_rows(0);
    workspace_ = WorkspaceCursor::round(static_cast<size_t>(max_rows * attrs_.n_experts) * sizeof(float)) +
                 exact_matmul_workspace(problem(max_rows, nullptr, nullptr), gemv_rows_, b.device.sm_count());
  }

  size_t workspace_bytes() const override { return workspace_; }

  void launch(const OpRun& r) override {
    const int64_t t = rows(x_desc_, r.tokens);
    if (t == 0) return;
    WorkspaceCursor ws(r.workspace, r.workspace_bytes);
    float* logits = ws.take<float>(static_cast<size_t>(t * attrs_.n_experts));
    gpu::MatmulProblem p = problem(t, static_cast<const float*>(r.ptr(x_)), logits);
    p.w[0] = gate_.ref(r);
    launch_exact_matmul(p, gemv_rows_, r, ws);
    const float* bias = attrs_.has_bias ? static_cast<const float*>(r.ptr(bias_)) : nullptr;
    gpu::RouteArgs a{logits, bias, static_cast<int32_t*>(r.ptr(experts_)), static_cast<float*>(r.ptr(weights_)), t, attrs_};
    gpu::launch_moe_route_select(a, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("moe_route");
  }

 private:
  gpu::MatmulProblem problem(int64_t t, const float* x, float* logits) const {
    gpu::MatmulProblem p;
    p.w_dtype = gate_dtype_;
    p.n = attrs_.n_experts;
    p.k = x_desc_.shape[1];
    p.x = x;
    p.ldx = p.k;
    p.y = logits;
    p.ldy = p.n;
    p.rows = t;
    return p;
  }

  uint32_t x_, experts_, weights_;
  fathom_tensor_desc x_desc_;
  fathom_moe_route_attrs attrs_;
  MatrixInput gate_;
  uint32_t gate_dtype_;
  int64_t gemv_rows_;
  uint32_t bias_ = 0;
  size_t workspace_ = 0;
};

}  // namespace

fathom_op_support support_moe_route(const fathom_op_desc& d) {
  const auto a = attrs_of<fathom_moe_route_attrs>(d);
  if (!is_f32(d.inputs[0])) return unsupported("moe_route on " FATHOM_GPU_BACKEND " takes f32 activations");
  if (!sdk::is_float_dtype(d.inputs[1].dtype) || d.inputs[1].layout != FATHOM_LAYOUT_DENSE)
    return unsupported("moe_route on " FATHOM_GPU_BACKEND " takes a dense float gate");
  if (a.n_experts > gpu::kRouteMaxExpertsPerLane * FATHOM_WARP_SIZE) return unsupported("moe_route on " FATHOM_GPU_BACKEND ": more than 256 experts");
  if (a.top_k > gpu::kRouteMaxTopK) return unsupported("moe_route on " FATHOM_GPU_BACKEND ": top_k above 32");
  if (a.n_group > FATHOM_WARP_SIZE) return unsupported("moe_route on " FATHOM_GPU_BACKEND ": more than 32 groups");
  return preferred();
}

std::unique_ptr<Op> make_moe_route(const OpBuild& b) { return std::make_unique<MoeRouteOp>(b); }

}  // namespace fathom::cuda
