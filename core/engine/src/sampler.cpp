#include "fathom/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "fathom/core/error.h"

namespace fathom::engine {

Sampler::Sampler(const SamplingParams& params)
    : params_(params), rng_(params.seed ? *params.seed : std::random_device{}()) {
  if (!(params.temperature >= 0)) throw invalid_argument("temperature must be >= 0");
  if (!(params.top_p > 0 && params.top_p <= 1)) throw invalid_argument("top_p must be in (0, 1]");
  if (params.top_k < 0) throw invalid_argument("top_k must be >= 0");
  if (!(params.min_p >= 0 && params.min_p <= 1)) throw invalid_argument("min_p must be in [0, 1]");
  if (!(params.repetition_penalty > 0)) throw invalid_argument("repetition_penalty must be > 0");
  for (const auto& [id, bias] : params.logit_bias) {
    if (!std::isfinite(bias)) throw invalid_argument("logit_bias of token " + std::to_string(id) + " is not a finite number");
  }
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> prompt, std::span<const int32_t> output) {
  const auto vocab = static_cast<int32_t>(logits.size());
  if (vocab == 0) throw invalid_argument("sample: empty logits");
  work_.assign(logits.begin(), logits.end());

  // Penalties, on the raw logits.
  if (params_.repetition_penalty != 1.0) {
    auto penalise = [&](int32_t id) {
      if (id < 0 || id >= vocab) return;
      float& l = work_[static_cast<size_t>(id)];
      l = l > 0 ? static_cast<float>(l / params_.repetition_penalty) : static_cast<float>(l * params_.repetition_penalty);
    };
    // Each distinct token once (HF gathers, penalises and scatters).
    std::vector<int32_t> seen(prompt.begin(), prompt.end());
    seen.insert(seen.end(), output.begin(), output.end());
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t id : seen) penalise(id);
  }
  if (params_.presence_penalty != 0.0 || params_.frequency_penalty != 0.0) {
    std::unordered_map<int32_t, int> counts;
    for (int32_t id : output) ++counts[id];
    for (auto [id, n] : counts) {
      if (id < 0 || id >= vocab) continue;
      work_[static_cast<size_t>(id)] -= static_cast<float>(params_.presence_penalty + params_.frequency_penalty * n);
    }
  }

  for (const auto& [id, bias] : params_.logit_bias) {
    if (id >= 0 && id < vocab) work_[static_cast<size_t>(id)] += bias;
  }

  if (params_.temperature == 0.0) {
    return static_cast<int32_t>(std::max_element(work_.begin(), work_.end()) - work_.begin());  // first max wins
  }

  // Candidates by descending logit (stable: ties keep the lower id first).
  order_.resize(static_cast<size_t>(vocab));
  std::iota(order_.begin(), order_.end(), 0);
  size_t keep = static_cast<size_t>(vocab);
  if (params_.top_k > 0) keep = std::min<size_t>(keep, static_cast<size_t>(params_.top_k));
  auto by_logit = [&](int32_t a, int32_t b) { return work_[static_cast<size_t>(a)] > work_[static_cast<size_t>(b)]; };
  if (keep < order_.size()) {
    std::partial_sort(order_.begin(), order_.begin() + static_cast<long>(keep), order_.end(), by_logit);
    order_.resize(keep);
  }
  std::stable_sort(order_.begin(), order_.end(), by_logit);

  // Softmax of logit / temperature over the candidates, in double.
  std::vector<double> probs(order_.size());
  const double max = work_[static_cast<size_t>(order_[0])];
  double sum = 0;
  for (size_t i = 0; i < order_.size(); ++i) {
    probs[i] = std::exp((work_[static_cast<size_t>(order_[i])] - max) / params_.temperature);
    sum += probs[i];
  }
  for (double& p : probs) p /= sum;

  // top-p: the smallest prefix whose mass reaches top_p; min-p: drop below min_p × the top.
  size_t cut = probs.size();
  if (params_.top_p < 1.0) {
    double mass = 0;
    for (size_t i = 0; i < probs.size(); ++i) {
      mass += probs[i];
      if (mass >= params_.top_p) {
        cut = i + 1;
        break;
      }
    }
  }
  if (params_.min_p > 0) {
    const double floor = params_.min_p * probs[0];
    size_t i = 1;
    while (i < cut && probs[i] >= floor) ++i;
    cut = i;
  }
  double kept = 0;
  for (size_t i = 0; i < cut; ++i) kept += probs[i];
  double r = std::uniform_real_distribution<double>(0.0, kept)(rng_);
  for (size_t i = 0; i < cut; ++i) {
    r -= probs[i];
    if (r < 0) return order_[i];
  }
  return order_[cut - 1];
}

}  // namespace fathom::engine
