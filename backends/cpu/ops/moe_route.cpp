// MoE router: scores, optional correction bias (selection only), group-limited top-k, weights.
//
// The expert *indices* must equal the reference's exactly, so this follows its arithmetic step
// by step: logits are dot products accumulated in double and rounded to f32 (the vector kernel
// only changes the order of a double sum, far below f32 rounding), scoring and selection run in
// double, sorting is stable with ties to the lower index. Only the dot products are worth
// vectorising: E·D multiply-adds per token against E log E for the rest.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include "matmul/weight_view.h"
#include "ops/ops.h"
#include "parallel.h"

namespace fathom::cpu {

namespace {

class MoeRoute final : public sdk::PreparedNode {
 public:
  MoeRoute(CpuContext& ctx, const fathom_moe_route_attrs& a) : ctx_(ctx), a_(a) {}

  void run(const sdk::KernelArgs& args) override {
    const sdk::HostTensor& x = *args.in[0];
    const sdk::HostTensor& gate = *args.in[1];
    const float* bias = a_.has_bias ? args.in[2]->as<const float>() : nullptr;
    const int64_t tokens = x.dim(0), width = x.dim(1);
    const WFormat fmt = *format_of(gate.dtype());
    const int64_t row_bytes = width * format_bytes(fmt);
    int32_t* out_experts = args.out[0]->as<int32_t>();
    float* out_weights = args.out[1]->as<float>();
    const int t = threads_for(ctx_.threads(), static_cast<double>(tokens * a_.n_experts * width), 1 << 18);
    parallel_ranges(tokens, t, 1, [&](int64_t t0, int64_t t1) {
      Work w(a_.n_experts, a_.n_group);
      for (int64_t tok = t0; tok < t1; ++tok) {
        const float* xt = x.as<const float>() + tok * width;
        for (int64_t e = 0; e < a_.n_experts; ++e)
          w.scores[static_cast<size_t>(e)] = static_cast<float>(ctx_.isa->dot_f64(fmt, gate.data + e * row_bytes, xt, width));
        route(w, bias, out_experts + tok * a_.top_k, out_weights + tok * a_.top_k);
      }
    });
  }

 private:
  struct Work {
    Work(int64_t experts, int64_t n_groups)
        : scores(static_cast<size_t>(experts)), choice(scores.size()), order(scores.size()), group_score(static_cast<size_t>(n_groups)),
          groups(group_score.size()) {}
    std::vector<double> scores, choice;
    std::vector<int64_t> order;
    std::vector<double> group_score, members;
    std::vector<int64_t> groups;
  };

  // From the f32-rounded logits in w.scores to the token's experts and weights.
  void route(Work& w, const float* bias, int32_t* experts_out, float* weights_out) const {
    const int64_t experts = a_.n_experts, per_group = experts / a_.n_group;
    std::vector<double>& scores = w.scores;
    if (a_.scoring == FATHOM_SCORING_SIGMOID) {
      for (double& s : scores) s = 1.0 / (1.0 + std::exp(-s));
    } else {
      double max = *std::max_element(scores.begin(), scores.end()), sum = 0;
      for (double& s : scores) sum += (s = std::exp(s - max));
      for (double& s : scores) s /= sum;
    }
    for (int64_t e = 0; e < experts; ++e)
      w.choice[static_cast<size_t>(e)] = scores[static_cast<size_t>(e)] + (bias ? bias[e] : 0.0);

    if (a_.topk_method != FATHOM_TOPK_GREEDY && a_.n_group > 1) {
      for (int64_t g = 0; g < a_.n_group; ++g) {
        w.members.assign(w.choice.begin() + g * per_group, w.choice.begin() + (g + 1) * per_group);
        std::sort(w.members.begin(), w.members.end(), std::greater<>());
        w.group_score[static_cast<size_t>(g)] = a_.topk_method == FATHOM_TOPK_NOAUX_TC
                                                    ? w.members[0] + (w.members.size() > 1 ? w.members[1] : 0.0)
                                                    : w.members[0];
      }
      std::iota(w.groups.begin(), w.groups.end(), 0);
      std::stable_sort(w.groups.begin(), w.groups.end(), [&](int64_t l, int64_t r) {
        return w.group_score[static_cast<size_t>(l)] > w.group_score[static_cast<size_t>(r)];
      });
      for (size_t i = static_cast<size_t>(a_.topk_group); i < w.groups.size(); ++i) {
        for (int64_t e = w.groups[i] * per_group; e < (w.groups[i] + 1) * per_group; ++e)
          w.choice[static_cast<size_t>(e)] = -std::numeric_limits<double>::infinity();
      }
    }

    std::iota(w.order.begin(), w.order.end(), 0);
    // Stable over indices in ascending order: equal scores keep the lower expert first.
    std::stable_sort(w.order.begin(), w.order.end(), [&](int64_t l, int64_t r) {
      return w.choice[static_cast<size_t>(l)] > w.choice[static_cast<size_t>(r)];
    });
    double sum = 0;
    for (int64_t k = 0; k < a_.top_k; ++k) sum += scores[static_cast<size_t>(w.order[static_cast<size_t>(k)])];
    for (int64_t k = 0; k < a_.top_k; ++k) {
      const int64_t e = w.order[static_cast<size_t>(k)];
      double v = scores[static_cast<size_t>(e)];
      if (a_.norm_topk_prob && a_.top_k > 1) v /= sum + 1e-20;
      experts_out[k] = static_cast<int32_t>(e);
      weights_out[k] = static_cast<float>(v * a_.routed_scaling_factor);
    }
  }

  CpuContext& ctx_;
  fathom_moe_route_attrs a_;
};

}  // namespace

Prepared prepare_moe_route(CpuContext& ctx, const sdk::PrepareArgs& args) {
  const auto a = sdk::KernelArgs{{}, {}, args.op.attrs, args.op.attrs_size}.attrs_as<fathom_moe_route_attrs>();
  return std::make_unique<MoeRoute>(ctx, a);
}

}  // namespace fathom::cpu
