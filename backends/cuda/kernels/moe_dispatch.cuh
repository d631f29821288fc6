// Grouping of the routed (token, slot) pairs by expert, for the grouped expert products, and
// the final weighted sum. Pair p = t * K + k is token t's k-th choice.
//
//   moe_count:   counts[e] = pairs routed to e; slot_in_group[p] = p's place among them
//                (an expert id outside 0..E-1 reports kErrExpertId and the pair is dropped);
//   moe_offsets: offsets[e] = exclusive prefix sum of counts;
//   moe_scatter: pair_ids[offsets[e] + slot_in_group[p]] = p.
//   (with active_groups: the groups that have pairs, in order, for the grouped products' launch)
//   moe_combine: y[t] = Σ_k y_pairs[t * K + k] in k order (deterministic), dropped pairs skipped.
//
// The order of pairs inside an expert depends on atomics, but every pair's result is computed on
// its own, so outputs do not depend on it.
#pragma once

#include <cstdint>

#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

struct MoeDispatchArgs {
  const int32_t* experts;  // [T][K]
  int64_t tokens;
  int32_t top_k, n_experts;
  int32_t* counts;         // [E + shared_groups]
  int32_t* offsets;        // [E + shared_groups]
  int32_t* slot_in_group;  // [T * K]
  int32_t* pair_ids;       // [T * (K + shared_groups)]
  int* error;

  // The shared experts as `shared_groups` more groups after the E routed ones, which every token
  // goes through (the MoE block fusion, single-block dispatch only). Token t's pairs are then
  // t * P + k for its K routed choices and t * P + K + s for shared group s, P = K + S, and
  // pair_weights[t * P + k] = route_weights[t * K + k], 1 for the shared ones.
  int32_t shared_groups = 0;
  const float* route_weights = nullptr;  // [T][K]
  float* pair_weights = nullptr;         // [T][K + shared_groups]

  // Optional: [moe_active_groups_max(...)] receives the groups that have pairs, in increasing
  // order, then -1s (MatmulProblem::active_groups).
  int32_t* active_groups = nullptr;
};

// How many groups can have pairs: at most T * K routed experts (and no more than E), and every
// shared group. The length of MoeDispatchArgs::active_groups.
FATHOM_HD int32_t moe_active_groups_max(int64_t tokens, int32_t top_k, int32_t n_experts, int32_t shared_groups) {
  const int64_t routed = tokens * top_k < n_experts ? tokens * top_k : n_experts;
  return static_cast<int32_t>(routed) + (tokens > 0 ? shared_groups : 0);
}

// Up to these many pairs and experts the three steps run as one single-block kernel (decode).
constexpr int64_t kOneBlockMaxPairs = 2048;
constexpr int32_t kOneBlockMaxExperts = 1024;
bool moe_dispatch_in_one_block(int64_t pairs, int32_t n_experts);

// Unless moe_dispatch_in_one_block(tokens * top_k, n_experts), counts must be zeroed first (the caller's memset on
// the same stream). No shared groups: see launch_moe_route_dispatch.
void launch_moe_dispatch(const MoeDispatchArgs& args, cudaStream_t stream);

struct MoeCombineArgs {
  const float* y_pairs;    // [T * K][D]
  const int32_t* experts;  // [T][K] (to skip dropped pairs)
  float* y;                // [T][D]
  int64_t tokens, width;
  int32_t top_k, n_experts;
};

void launch_moe_combine(const MoeCombineArgs& args, cudaStream_t stream);

}  // namespace fathom::gpu
