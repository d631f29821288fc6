// A MoE layer's router and routed experts (FusionKind::route_experts): for a decode step's few
// tokens the selection and the grouping of the chosen pairs by expert are one single-block
// kernel (kernels/moe_route.cu) instead of two launches; more tokens run the two ops as they
// are. The ops are the nodes' own (ops/moe_route_op.h, ops/moe_experts_op.h), which this one
// runs in parts, with the workspace split between them: the router's logits are still read
// while the dispatch writes its tables.
#include "ops/fused.h"
#include "ops/moe_experts_op.h"
#include "ops/moe_route_op.h"

namespace fathom::cuda {

namespace {

class RouteExpertsOp final : public Op {
 public:
  RouteExpertsOp(const OpBuild& route, const OpBuild& experts)
      : route_(route), experts_(experts), x_desc_(route.desc.inputs[0]),
        route_bytes_(WorkspaceCursor::round(route_.workspace_bytes())) {}

  size_t workspace_bytes() const override { return route_bytes_ + experts_.workspace_bytes(); }

  void launch(const OpRun& r) override {
    const int64_t t = rows(x_desc_, r.tokens);
    if (t == 0) return;
    if (!gpu::route_and_dispatch_in_one_block(t, route_.attrs())) {
      route_.launch(r);
      experts_.launch(r);
      return;
    }
    WorkspaceCursor route_ws(r.workspace, route_bytes_);
    const gpu::RouteArgs selection = route_.launch_logits(r, t, route_ws);
    WorkspaceCursor experts_ws(r.workspace + route_bytes_, r.workspace_bytes - route_bytes_);
    const MoeExpertsOp::Buffers buf = experts_.take_buffers(r, t, experts_ws);
    gpu::launch_moe_route_dispatch(selection, experts_.dispatch_args(r, t, buf), r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("moe_route + moe_experts: selection and dispatch");
    experts_.launch_products(r, t, buf, experts_ws);
  }

 private:
  MoeRouteOp route_;
  MoeExpertsOp experts_;
  fathom_tensor_desc x_desc_;
  size_t route_bytes_;
};

}  // namespace

std::unique_ptr<Op> make_route_experts(const OpBuild& route, const OpBuild& experts) {
  return std::make_unique<RouteExpertsOp>(route, experts);
}

}  // namespace fathom::cuda
