// MoE router (spec §2.8 for V3 noaux_tc, §2.9 for V2 greedy / group_limited_greedy), all in
// f32/f64 (pitfalls 8, 10):
//   logits_e = x · gate_e;  s_e = sigmoid(logits_e) or softmax_e(logits)
//   c_e = s_e + bias_e (bias only for selection, pitfall 7)
//   groups ranked by top-2 sum of c (noaux_tc) or max of s (group_limited_greedy); experts in
//   dropped groups get −inf (never 0: pitfall 6)
//   experts = top-K of c, ordered by descending c, ties to the lower index
//   weights = s_e (unbiased); renormalised to sum 1 when norm_topk_prob (+1e-20, as HF);
//   then × routed_scaling_factor.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/kernels.h"

namespace fathom::reference {

void moe_route(const KernelArgs& args) {
  const auto a = args.attrs_as<fathom_moe_route_attrs>();
  const auto& x = *args.in[0];
  const auto& gate = *args.in[1];
  const int64_t tokens = x.dim(0), width = x.dim(1), experts = a.n_experts;
  const int64_t per_group = experts / a.n_group;
  int32_t* out_experts = args.out[0]->as<int32_t>();
  float* out_weights = args.out[1]->as<float>();
  const double neg_inf = -std::numeric_limits<double>::infinity();

  std::vector<double> scores(static_cast<size_t>(experts)), choice(static_cast<size_t>(experts));
  std::vector<int64_t> order(static_cast<size_t>(experts));
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t e = 0; e < experts; ++e) {
      double logit = 0;
      for (int64_t d = 0; d < width; ++d) logit += static_cast<double>(load_f32(x, t * width + d)) * load_f32(gate, e * width + d);
      // The router's logits are an f32 GEMM output in every reference: round before scoring.
      scores[static_cast<size_t>(e)] = static_cast<float>(logit);
    }
    if (a.scoring == FATHOM_SCORING_SIGMOID) {
      for (double& s : scores) s = 1.0 / (1.0 + std::exp(-s));
    } else {
      double max = *std::max_element(scores.begin(), scores.end()), sum = 0;
      for (double& s : scores) sum += (s = std::exp(s - max));
      for (double& s : scores) s /= sum;
    }
    for (int64_t e = 0; e < experts; ++e) {
      choice[static_cast<size_t>(e)] = scores[static_cast<size_t>(e)] + (a.has_bias ? load_f32(*args.in[2], e) : 0.0);
    }

    if (a.topk_method != FATHOM_TOPK_GREEDY && a.n_group > 1) {
      std::vector<double> group_score(static_cast<size_t>(a.n_group));
      for (int64_t g = 0; g < a.n_group; ++g) {
        std::vector<double> members(choice.begin() + g * per_group, choice.begin() + (g + 1) * per_group);
        std::sort(members.begin(), members.end(), std::greater<>());
        group_score[static_cast<size_t>(g)] =
            a.topk_method == FATHOM_TOPK_NOAUX_TC ? members[0] + (members.size() > 1 ? members[1] : 0.0) : members[0];
      }
      std::vector<int64_t> groups(static_cast<size_t>(a.n_group));
      std::iota(groups.begin(), groups.end(), 0);
      std::stable_sort(groups.begin(), groups.end(),
                       [&](int64_t l, int64_t r) { return group_score[static_cast<size_t>(l)] > group_score[static_cast<size_t>(r)]; });
      for (size_t i = static_cast<size_t>(a.topk_group); i < groups.size(); ++i) {
        for (int64_t e = groups[i] * per_group; e < (groups[i] + 1) * per_group; ++e) choice[static_cast<size_t>(e)] = neg_inf;
      }
    }

    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t l, int64_t r) { return choice[static_cast<size_t>(l)] > choice[static_cast<size_t>(r)]; });
    double sum = 0;
    for (int64_t k = 0; k < a.top_k; ++k) sum += scores[static_cast<size_t>(order[static_cast<size_t>(k)])];
    for (int64_t k = 0; k < a.top_k; ++k) {
      const int64_t e = order[static_cast<size_t>(k)];
      double w = scores[static_cast<size_t>(e)];
      if (a.norm_topk_prob && a.top_k > 1) w /= sum + 1e-20;
      out_experts[t * a.top_k + k] = static_cast<int32_t>(e);
      out_weights[t * a.top_k + k] = static_cast<float>(w * a.routed_scaling_factor);
    }
  }
}

}  // namespace fathom::reference
