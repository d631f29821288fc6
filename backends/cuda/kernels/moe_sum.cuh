// Token t's value at column d at the end of a MoE layer (ops/moe_block.cpp), summed from the
// experts' results per pair (moe_dispatch.cuh's layout with shared groups): the routed ones in
// slot order, dropped pairs skipped, then the shared groups' parts, the two sums added (the
// rounding steps of moe_experts, the shared MLP's product and the add after them), then added
// to the residual. `load` reads a pair's result: a plain load in the kernel of its own
// (rms_norm.cu), load_other_blocks in the last block of the product that wrote them (gemv.cuh,
// GemvTailKind::moe_sum).
#pragma once

#include "kernels/common.cuh"
#include "kernels/rms_norm.cuh"

namespace fathom::gpu {

template <typename Load>
FATHOM_DEVICE float moe_layer_output(const RmsNormArgs& a, const MoePairSum& m, int64_t t, int64_t d, Load load) {
  const int64_t first_pair = t * (m.top_k + m.shared_groups);
  float routed = 0.f, shared = 0.f;
  for (int k = 0; k < m.top_k; ++k) {
    const int32_t e = m.experts[t * m.top_k + k];
    if (e >= 0 && e < m.n_experts) routed += load(m.y_pairs + (first_pair + k) * a.width + d);
  }
  for (int s = 0; s < m.shared_groups; ++s) shared += load(m.y_pairs + (first_pair + m.top_k + s) * a.width + d);
  return a.residual[t * a.width + d] + (routed + shared);
}

}  // namespace fathom::gpu
