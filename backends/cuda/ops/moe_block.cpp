// A MoE layer from its router to the next norm (FusionKind::moe_block): moe_route, moe_experts,
// the shared experts' MLP, the add of the two, the residual add and the rms_norm after it. For
// a decode step's one or two tokens that is five kernels instead of eight: the router logits,
// the selection and grouping (kernels/moe_route.cu), the two grouped products with the shared
// experts folded in as more groups (ops/moe_experts_op.h), and one kernel that sums each
// token's results, adds the residual and normalises (kernels/rms_norm.cu). Where the shared
// experts cannot be folded, and for more tokens, the run's fused ops run as they would alone.
#include "kernels/rms_norm.cuh"
#include "ops/fused.h"
#include "ops/moe_experts_op.h"
#include "ops/moe_route_op.h"

namespace fathom::cuda {

namespace {

class MoeBlockOp final : public Op {
 public:
  MoeBlockOp(const MoeBlockBuilds& b, std::vector<std::unique_ptr<Op>> parts)
      : route_(b.route), experts_(b.experts, &b.shared), parts_(std::move(parts)), x_desc_(b.route.desc.inputs[0]),
        residual_(b.add.inputs[0] == b.inner_add.outputs[0] ? b.add.inputs[1] : b.add.inputs[0]), sum_(b.add.outputs[0]),
        norm_w_(b.norm.inputs[1]), out_(b.norm.outputs[0]), norm_w_dtype_(b.norm.desc.inputs[1].dtype),
        out_dtype_(b.norm.desc.outputs[0].dtype), eps_(attrs_of<fathom_rms_norm_attrs>(b.norm.desc).eps),
        route_bytes_(WorkspaceCursor::round(route_.workspace_bytes())) {
    for (const auto& op : parts_) parts_workspace_ = std::max(parts_workspace_, op->workspace_bytes());
  }

  size_t workspace_bytes() const override {
    return experts_.shared_groups() ? std::max(parts_workspace_, route_bytes_ + experts_.workspace_bytes()) : parts_workspace_;
  }

  void launch(const OpRun& r) override {
    const int64_t t = rows(x_desc_, r.tokens);
    if (t == 0) return;
    if (!folds(t)) {
      for (auto& op : parts_) op->launch(r);
      return;
    }
    WorkspaceCursor route_ws(r.workspace, route_bytes_);
    const gpu::RouteArgs selection = route_.launch_logits(r, t, route_ws);
    WorkspaceCursor experts_ws(r.workspace + route_bytes_, r.workspace_bytes - route_bytes_);
    const MoeExpertsOp::Buffers buf = experts_.take_buffers(r, t, experts_ws, true);
    gpu::launch_moe_route_dispatch(selection, experts_.dispatch_args(r, t, buf), r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("moe block: selection and dispatch");
    experts_.launch_grouped_products(r, t, buf, experts_ws);

    gpu::RmsNormArgs a{nullptr, r.ptr(norm_w_), r.ptr(out_), FATHOM_DTYPE_F32, norm_w_dtype_, out_dtype_, t,
                       x_desc_.shape[1], eps_};
    a.residual = static_cast<const float*>(r.ptr(residual_));
    a.sum = static_cast<float*>(r.ptr(sum_));
    const fathom_moe_route_attrs& attrs = route_.attrs();
    gpu::launch_moe_sum_rms_norm(a, gpu::MoePairSum{buf.y_pairs, selection.experts, attrs.top_k, buf.shared_groups, attrs.n_experts},
                                 r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("moe block: sum, residual add and rms_norm");
  }

 private:
  bool folds(int64_t t) const {
    const fathom_moe_route_attrs& attrs = route_.attrs();
    return experts_.shared_groups() > 0 && t <= MoeExpertsOp::kMaxFoldedRows && gpu::route_and_dispatch_in_one_block(t, attrs) &&
           gpu::moe_dispatch_in_one_block(t * attrs.top_k, attrs.n_experts + experts_.shared_groups());
  }

  MoeRouteOp route_;
  MoeExpertsOp experts_;
  std::vector<std::unique_ptr<Op>> parts_;
  fathom_tensor_desc x_desc_;
  uint32_t residual_, sum_, norm_w_, out_;
  uint32_t norm_w_dtype_, out_dtype_;
  float eps_;
  size_t route_bytes_;
  size_t parts_workspace_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_moe_block(const MoeBlockBuilds& builds, std::vector<std::unique_ptr<Op>> parts) {
  return std::make_unique<MoeBlockOp>(builds, std::move(parts));
}

}  // namespace fathom::cuda
