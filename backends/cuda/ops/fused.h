// Ops that compute a run of nodes at once (see runtime/fusion.h). One that does not always pay
// is given the ops of its nodes, built as usual, and runs them in order where fusing does not.
#pragma once

#include <memory>
#include <vector>

#include "ops/op.h"
#include "ops/util.h"

namespace fathom::cuda {

// FusionKind::swiglu_matmul: the builds of the gate matmul, the up matmul and the silu_mul.
std::unique_ptr<Op> make_swiglu_matmul(const OpBuild& gate, const OpBuild& up, const OpBuild& act,
                                       std::vector<std::unique_ptr<Op>> parts);

// FusionKind::stacked_matmul: the builds of the two matmuls.
std::unique_ptr<Op> make_stacked_matmul(const OpBuild& a, const OpBuild& b, std::vector<std::unique_ptr<Op>> parts);

// FusionKind::matmul_add_rms_norm: the builds of the matmul, the add and the rms_norm, and the
// ops it runs for more rows (the matmul's own op, add_rms_norm).
std::unique_ptr<Op> make_matmul_add_rms_norm(const OpBuild& matmul, const OpBuild& add, const OpBuild& norm,
                                             std::vector<std::unique_ptr<Op>> parts);

// FusionKind::add_rms_norm: the builds of the add and the rms_norm (always fused: no parts).
std::unique_ptr<Op> make_add_rms_norm(const OpBuild& add, const OpBuild& norm);
// FusionKind::add_add_rms_norm: the inner add's build first.
std::unique_ptr<Op> make_add_add_rms_norm(const OpBuild& inner, const OpBuild& add, const OpBuild& norm);

// FusionKind::sliced_rms_norm and sliced_rope: the op of the node after the slice, reading the
// slice's source (ops/rms_norm.cpp, ops/rope_yarn.cpp).
std::unique_ptr<Op> make_sliced_rms_norm(const OpBuild& norm, const SliceSource& source);
std::unique_ptr<Op> make_sliced_rope(const OpBuild& rope, const SliceSource& source);

// FusionKind::route_experts: the builds of the moe_route and the moe_experts node
// (ops/route_experts.cpp).
std::unique_ptr<Op> make_route_experts(const OpBuild& route, const OpBuild& experts);

// FusionKind::moe_block: the builds of its nine nodes (ops/moe_block.cpp), and the ops of the
// runs after the router and routed experts, in order (swiglu_matmul, the down matmul's own op,
// add_add_rms_norm), which it runs where it does not fold the shared experts in.
struct SharedExpertBuilds {  // the shared experts' three matmuls, which read the routed experts' x
  const OpBuild& gate;
  const OpBuild& up;
  const OpBuild& down;
};
struct MoeBlockBuilds {
  const OpBuild& route;
  const OpBuild& experts;
  const SharedExpertBuilds& shared;
  const OpBuild& inner_add;  // routed + shared
  const OpBuild& add;        // the residual add
  const OpBuild& norm;
};
std::unique_ptr<Op> make_moe_block(const MoeBlockBuilds& builds, std::vector<std::unique_ptr<Op>> parts);

// FusionKind::mla_prologue: the builds of q's rope, the latent's rms_norm and k_pe's rope, and
// where the two slices of kv_a's output begin (ops/mla_attention.cpp).
struct MlaPrologueBuilds {
  const OpBuild& q_rope;
  const OpBuild& latent_norm;
  const OpBuild& k_rope;
  SliceSource latent, k_pe;
};
std::unique_ptr<Op> make_mla_with_prologue(const OpBuild& mla, const MlaPrologueBuilds& parts);

}  // namespace fathom::cuda
