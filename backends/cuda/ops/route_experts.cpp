// FusionKind::route_experts (see ops/route_experts.h).
#include "ops/route_experts.h"

namespace fathom::cuda {

RouteAndExperts::RouteAndExperts(const OpBuild& route, const OpBuild& experts, const SharedExpertBuilds* shared)
    : route_(route), experts_(experts, shared), route_bytes_(WorkspaceCursor::round(route_.workspace_bytes())) {
  const unsigned zero = 0;
  blocks_done_ = static_cast<unsigned*>(route.memory.upload(&zero, sizeof zero));
}

bool RouteAndExperts::selects_in_one_block(int64_t t) const {
  return gpu::route_and_dispatch_in_one_block(t, route_.attrs()) &&
         gpu::moe_dispatch_in_one_block(t * route_.attrs().top_k, route_.attrs().n_experts + experts_.shared_groups());
}

MoeExpertsOp::Buffers RouteAndExperts::launch_grouped(const OpRun& r, int64_t t, bool fold_shared, const gpu::GemvTail* down_tail) {
  WorkspaceCursor route_ws(r.workspace, route_bytes_);
  const gpu::RouteArgs selection = route_.selection_args(r, t, route_ws);
  WorkspaceCursor experts_ws(r.workspace + route_bytes_, r.workspace_bytes - route_bytes_);
  const MoeExpertsOp::Buffers buf = experts_.take_buffers(r, t, experts_ws, fold_shared);
  const gpu::MoeDispatchArgs dispatch = experts_.dispatch_args(r, t, buf);
  if (route_.logits_take_tail(t)) {
    gpu::GemvTail tail;
    tail.kind = gpu::GemvTailKind::route;
    tail.blocks_done = blocks_done_;
    tail.route = selection;
    tail.dispatch = dispatch;
    route_.launch_logits(r, selection, route_ws, &tail);
  } else {
    route_.launch_logits(r, selection, route_ws);
    gpu::launch_moe_route_dispatch(selection, dispatch, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("moe_route + moe_experts: selection and dispatch");
  }
  experts_.launch_grouped_products(r, t, buf, experts_ws, down_tail);
  return buf;
}

void RouteAndExperts::launch(const OpRun& r, int64_t t) {
  if (!selects_in_one_block(t)) {
    route_.launch(r);
    experts_.launch(r);
    return;
  }
  experts_.launch_combine(r, t, launch_grouped(r, t, false));
}

namespace {

class RouteExpertsOp final : public Op {
 public:
  RouteExpertsOp(const OpBuild& route, const OpBuild& experts) : moe_(route, experts), x_desc_(route.desc.inputs[0]) {}

  size_t workspace_bytes() const override { return moe_.workspace_bytes(); }

  void launch(const OpRun& r) override {
    const int64_t t = rows(x_desc_, r.tokens);
    if (t > 0) moe_.launch(r, t);
  }

 private:
  RouteAndExperts moe_;
  fathom_tensor_desc x_desc_;
};

}  // namespace

std::unique_ptr<Op> make_route_experts(const OpBuild& route, const OpBuild& experts) {
  return std::make_unique<RouteExpertsOp>(route, experts);
}

}  // namespace fathom::cuda
