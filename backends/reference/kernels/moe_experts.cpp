// Routed experts (spec §2.8): y[t] = Σ_k w[t,k] · down_e(silu(gate_e · x[t]) ⊙ (up_e · x[t])),
// e = experts[t,k]; only the routed experts are computed. Sums in f64.
#include <array>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "kernels/dequantize.h"
#include "kernels/kernels.h"

namespace fathom::reference {

namespace {

struct ExpertWeights {
  std::vector<float> gate, up, down;  // [I, D], [I, D], [D, I]
};

}  // namespace

void moe_experts(const KernelArgs& args) {
  const auto a = args.attrs_as<fathom_moe_experts_attrs>();
  const auto& x = *args.in[0];
  const int32_t* experts = args.in[1]->as<const int32_t>();
  const float* weights = args.in[2]->as<const float>();
  const auto& out = *args.out[0];
  const int64_t tokens = x.dim(0), dim = a.hidden, inter = a.intermediate;

  // Where each expert's three matrices (and their scales) sit among the inputs.
  std::vector<std::array<std::pair<size_t, int64_t>, 3>> where(static_cast<size_t>(a.n_experts));
  size_t i = 3;
  for (auto& e : where) {
    for (auto& m : e) {
      bool scaled = args.in[i]->desc.layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128;
      m = {i, scaled ? static_cast<int64_t>(i + 1) : -1};
      i += scaled ? 2 : 1;
    }
  }
  std::map<int32_t, ExpertWeights> loaded;  // dequantised on first use
  auto expert = [&](int32_t e) -> const ExpertWeights& {
    if (e < 0 || e >= a.n_experts)
      sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "moe_experts: expert id " + std::to_string(e) + " outside 0.." +
                                                std::to_string(a.n_experts - 1));
    auto it = loaded.find(e);
    if (it != loaded.end()) return it->second;
    auto matrix = [&](int m) {
      auto [w, s] = where[static_cast<size_t>(e)][static_cast<size_t>(m)];
      return dequantize(*args.in[w], s >= 0 ? args.in[static_cast<size_t>(s)] : nullptr);
    };
    return loaded.emplace(e, ExpertWeights{matrix(0), matrix(1), matrix(2)}).first->second;
  };

  std::vector<double> y(static_cast<size_t>(dim)), h(static_cast<size_t>(inter));
  for (int64_t t = 0; t < tokens; ++t) {
    std::fill(y.begin(), y.end(), 0.0);
    for (int64_t k = 0; k < a.top_k; ++k) {
      const ExpertWeights& w = expert(experts[t * a.top_k + k]);
      for (int64_t j = 0; j < inter; ++j) {
        double g = 0, u = 0;
        for (int64_t d = 0; d < dim; ++d) {
          const double xv = load_f32(x, t * dim + d);
          g += xv * w.gate[static_cast<size_t>(j * dim + d)];
          u += xv * w.up[static_cast<size_t>(j * dim + d)];
        }
        // f32 rounding between the projections, as an f32 reference computes them.
        const double gf = static_cast<float>(g), uf = static_cast<float>(u);
        h[static_cast<size_t>(j)] = static_cast<float>(gf / (1.0 + std::exp(-gf)) * uf);
      }
      const double route_weight = weights[t * a.top_k + k];
      for (int64_t d = 0; d < dim; ++d) {
        double sum = 0;
        for (int64_t j = 0; j < inter; ++j) sum += h[static_cast<size_t>(j)] * w.down[static_cast<size_t>(d * inter + j)];
        y[static_cast<size_t>(d)] += route_weight * static_cast<float>(sum);
      }
    }
    for (int64_t d = 0; d < dim; ++d) store_f32(out, t * dim + d, static_cast<float>(y[static_cast<size_t>(d)]));
  }
}

}  // namespace fathom::reference
