// A MoE layer's router and routed experts run as one (FusionKind::route_experts, and the routed
// part of FusionKind::moe_block): for a decode step's few tokens the selection and the grouping
// of the chosen pairs by expert are one single-block kernel (kernels/moe_route.cu) instead of
// two launches; more tokens run the two ops as they are. The ops are the nodes' own
// (ops/moe_route_op.h, ops/moe_experts_op.h), run in parts, with the workspace split between
// them: the router's logits are still read while the dispatch writes its tables. For one or
// two tokens the selection and grouping are not a kernel of their own either: the last block of
// the logits' gemv launch does them (kernels/gemv.cuh, GemvTailKind::route).
#pragma once

#include "ops/fused.h"
#include "ops/moe_experts_op.h"
#include "ops/moe_route_op.h"

namespace fathom::cuda {

class RouteAndExperts {
 public:
  // With `shared`, the experts op may fold the shared experts in (ops/moe_experts_op.h).
  RouteAndExperts(const OpBuild& route, const OpBuild& experts, const SharedExpertBuilds* shared = nullptr);

  size_t workspace_bytes() const { return route_bytes_ + experts_.workspace_bytes(); }

  // Whether t tokens are selected and grouped in one kernel (launch_grouped may run).
  bool selects_in_one_block(int64_t t) const;

  // For t tokens (selects_in_one_block(t)): the router logits, the selection and grouping
  // kernel, then the two grouped products, with the shared experts folded in if asked (and
  // shared_groups() > 0). Returns the buffers whose y_pairs hold each pair's result.
  // With `down_tail`, the down product ends in it (MoeExpertsOp::launch_grouped_products).
  MoeExpertsOp::Buffers launch_grouped(const OpRun& r, int64_t t, bool fold_shared, const gpu::GemvTail* down_tail = nullptr);

  // The two nodes' outputs for t > 0 tokens: launch_grouped and each token's sum, or the two
  // ops as they are.
  void launch(const OpRun& r, int64_t t);

  const fathom_moe_route_attrs& attrs() const { return route_.attrs(); }
  int32_t shared_groups() const { return experts_.shared_groups(); }
  bool down_takes_tail(int64_t t) const { return experts_.down_takes_tail(t); }

 private:
  MoeRouteOp route_;
  MoeExpertsOp experts_;
  size_t route_bytes_;
  unsigned* blocks_done_;  // the logits launch's counter (GemvTail), zero between launches
};

}  // namespace fathom::cuda
