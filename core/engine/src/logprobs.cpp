#include "fathom/engine/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "fathom/core/error.h"

namespace fathom::engine {

TokenLogprobs token_logprobs(std::span<const float> logits, int32_t token, int64_t top) {
  const auto vocab = static_cast<int64_t>(logits.size());
  if (vocab == 0) throw invalid_argument("logprobs: empty logits");
  if (token < 0 || token >= vocab) {
    throw invalid_argument("logprobs: token " + std::to_string(token) + " outside the vocabulary of " + std::to_string(vocab));
  }
  // log p(i) = x_i − (m + log Σ exp(x_j − m)); the sum in double, since over a large vocabulary
  // float would lose the small terms that make up most of it.
  // A NaN logit (a broken model) ranks last, so that sorting stays well-defined.
  auto key = [&](int64_t i) {
    const float x = logits[static_cast<size_t>(i)];
    return std::isnan(x) ? -std::numeric_limits<float>::infinity() : x;
  };
  float max_logit = key(0);
  for (int64_t i = 1; i < vocab; ++i) max_logit = std::max(max_logit, key(i));
  double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max_logit);
  const double log_normaliser = max_logit + std::log(sum);
  auto logprob = [&](int64_t i) { return static_cast<float>(logits[static_cast<size_t>(i)] - log_normaliser); };

  TokenLogprobs out;
  out.logprob = logprob(token);
  const int64_t n = std::clamp<int64_t>(top, 0, vocab);
  if (n == 0) return out;
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + n, order.end(), [&](int32_t a, int32_t b) {
    const float la = key(a), lb = key(b);
    return la > lb || (la == lb && a < b);
  });
  out.top.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.top.push_back({order[static_cast<size_t>(i)], logprob(order[static_cast<size_t>(i)])});
  return out;
}

}  // namespace fathom::engine
