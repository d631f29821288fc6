// The router's selection for one token by one warp (device code), and the selection of a few
// tokens followed by the grouping of their pairs by expert in one block: run by the selection
// kernels (moe_route.cu) and by the last block of the router logits' gemv launch (gemv.cuh,
// GemvTail::route). The logits may have been written by other blocks of the same launch.
//
// One warp per token: lane l holds experts l, l + W, l + 2W, ... in registers (f64). Group
// scores and the top-k are warp-wide argmax rounds whose ties go to the lower index, which is
// what the reference's stable sorts give.
#pragma once

#include "kernels/common.cuh"
#include "kernels/moe_dispatch_block.cuh"
#include "kernels/moe_route.cuh"

namespace fathom::gpu {

namespace route_detail {

constexpr int W = FATHOM_WARP_SIZE;

struct Best {
  double value;
  int index;
  double score;  // the unbiased score of `index` (the weight)
};

FATHOM_DEVICE bool better(double v, int i, double bv, int bi) { return v > bv || (v == bv && i < bi); }

FATHOM_DEVICE Best warp_argmax(Best b) {
#pragma unroll
  for (int m = W / 2; m > 0; m /= 2) {
    const double v = fathom_shfl_xor(b.value, m);
    const int i = fathom_shfl_xor(b.index, m);
    const double s = fathom_shfl_xor(b.score, m);
    if (better(v, i, b.value, b.index)) b = {v, i, s};
  }
  return b;
}

FATHOM_DEVICE double warp_max_d(double v) {
#pragma unroll
  for (int m = W / 2; m > 0; m /= 2) v = fmax(v, fathom_shfl_xor(v, m));
  return v;
}

// Token t's selection, by the calling warp.
FATHOM_DEVICE void select_for_token(const RouteArgs& a, int64_t t) {
  constexpr int P = kRouteMaxExpertsPerLane;
  const int lane = threadIdx.x % W;
  const fathom_moe_route_attrs& at = a.attrs;
  const int E = at.n_experts, K = at.top_k;
  const float* logits = a.logits + t * E;
  const double neg_inf = -INFINITY;

  double score[P], choice[P];
  // Scores.
  if (at.scoring == FATHOM_SCORING_SIGMOID) {
#pragma unroll
    for (int j = 0; j < P; ++j) {
      const int e = lane + W * j;
      score[j] = e < E ? 1.0 / (1.0 + exp(-static_cast<double>(load_other_blocks(logits + e)))) : 0.0;
    }
  } else {
    double mx = neg_inf;
#pragma unroll
    for (int j = 0; j < P; ++j) {
      const int e = lane + W * j;
      if (e < E) mx = fmax(mx, static_cast<double>(load_other_blocks(logits + e)));
    }
    mx = warp_max_d(mx);
    double sum = 0;
#pragma unroll
    for (int j = 0; j < P; ++j) {
      const int e = lane + W * j;
      score[j] = e < E ? exp(static_cast<double>(load_other_blocks(logits + e)) - mx) : 0.0;
      sum += score[j];
    }
    sum = warp_sum(sum);
#pragma unroll
    for (int j = 0; j < P; ++j) score[j] /= sum;
  }
#pragma unroll
  for (int j = 0; j < P; ++j) {
    const int e = lane + W * j;
    choice[j] = e < E ? score[j] + (at.has_bias ? static_cast<double>(a.bias[e]) : 0.0) : neg_inf;
  }

  // Group-limited selection: keep the topk_group best groups, mask the others with -inf.
  if (at.topk_method != FATHOM_TOPK_GREEDY && at.n_group > 1) {
    const int per_group = E / at.n_group;
    double my_group_score = neg_inf;  // lane g holds group g's score (n_group <= W, checked)
    for (int g = 0; g < at.n_group; ++g) {
      // Top two of the group's choices (values only: ties do not change a sum or a max).
      double b1 = neg_inf, b2 = neg_inf;
#pragma unroll
      for (int j = 0; j < P; ++j) {
        const int e = lane + W * j;
        if (e < E && e / per_group == g) {
          const double v = choice[j];
          if (v > b1) {
            b2 = b1;
            b1 = v;
          } else if (v > b2) {
            b2 = v;
          }
        }
      }
#pragma unroll
      for (int m = W / 2; m > 0; m /= 2) {
        const double o1 = fathom_shfl_xor(b1, m), o2 = fathom_shfl_xor(b2, m);
        const double hi = fmax(b1, o1), lo = fmax(fmin(b1, o1), fmax(b2, o2));
        b1 = hi;
        b2 = lo;
      }
      const double gs = at.topk_method == FATHOM_TOPK_NOAUX_TC ? b1 + (per_group > 1 ? b2 : 0.0) : b1;
      if (lane == g) my_group_score = gs;
    }
    unsigned long long kept = 0;
    double mine = lane < at.n_group ? my_group_score : neg_inf;
    for (int r = 0; r < at.topk_group; ++r) {
      const Best b = warp_argmax(Best{mine, lane < at.n_group ? lane : 1 << 30, 0.0});
      kept |= 1ull << b.index;
      if (lane == b.index) mine = neg_inf;
    }
#pragma unroll
    for (int j = 0; j < P; ++j) {
      const int e = lane + W * j;
      if (e < E && !((kept >> (e / per_group)) & 1ull)) choice[j] = neg_inf;
    }
  }

  // Top-k, best first; a chosen expert leaves the candidates.
  bool taken[P];
#pragma unroll
  for (int j = 0; j < P; ++j) taken[j] = !(lane + W * j < E);
  // Lane k keeps the k-th choice (K <= warp size): registers, where arrays indexed by k would
  // live in local memory.
  static_assert(kRouteMaxTopK <= FATHOM_WARP_SIZE);
  int my_choice = 0;
  double my_weight = 0;
  double sum = 0;
  for (int k = 0; k < K; ++k) {
    Best mine{neg_inf, 1 << 30, 0.0};
    bool any = false;
#pragma unroll
    for (int j = 0; j < P; ++j) {
      const int e = lane + W * j;
      if (!taken[j] && (!any || better(choice[j], e, mine.value, mine.index))) {
        mine = {choice[j], e, score[j]};
        any = true;
      }
    }
    const Best b = warp_argmax(mine);
#pragma unroll
    for (int j = 0; j < P; ++j) {
      if (lane + W * j == b.index) taken[j] = true;
    }
    if (lane == k) {
      my_choice = b.index;
      my_weight = b.score;
    }
    sum += b.score;  // the same on every lane: b is the warp's
  }
  if (lane >= K) return;
  double w = my_weight;
  if (at.norm_topk_prob && K > 1) w /= sum + 1e-20;
  a.experts[t * K + lane] = my_choice;
  a.weights[t * K + lane] = static_cast<float>(w * at.routed_scaling_factor);
}

}  // namespace route_detail

// A warp per token selects (tokens <= kRouteDispatchMaxTokens), then the block groups the pairs
// by expert (dispatch_in_block: every thread of a block of kDispatchBlockThreads calls this).
FATHOM_DEVICE void route_and_dispatch_in_block(const RouteArgs& a, const MoeDispatchArgs& d) {
  const int64_t t = threadIdx.x / FATHOM_WARP_SIZE;
  if (t < a.tokens) route_detail::select_for_token(a, t);
  __syncthreads();  // the experts chosen above, in global memory, are visible to the block
  dispatch_in_block(d);
}

}  // namespace fathom::gpu
