#include "fathom/engine/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "fathom/core/error.h"

namespace fathom::engine {

TokenLogprobs token_logprobs(std::span<const float> logits, int32_t token, int64_t top) {
  const auto vocab = static_cast<int64_t>(logits.size());
  if (vocab == 0) throw invalid_argument("logprobs: empty logits");
  if (token < 0 || token >= vocab) {
    throw invalid_argument("logprobs: token " + std::to_string(token) + " outside the vocabulary of " + std::to_string(vocab));
  }
  // log p(i) = x_i − (m + log Σ exp(x_j − m)), m the largest logit.
  // A NaN logit (a broken model) ranks last, so that sorting stays well-defined.
  auto key = [&](int64_t i) {
    const float x = logits[static_cast<size_t>(i)];
    return std::isnan(x) ? -std::numeric_limits<float>::infinity() : x;
  };
  float max_logit = key(0);
  for (int64_t i = 1; i < vocab; ++i) max_logit = std::max(max_logit, key(i));
  // Each term in float (x − m ≤ 0, so it cannot overflow), the sum in double: over a large
  // vocabulary a float sum would lose the small terms that make up most of it.
  double sum = 0;
  for (float x : logits) sum += std::exp(x - max_logit);
  // (x − m) − log Σ, not x − (m + log Σ): with logits as large as 1e31, m + log Σ rounds back to m.
  const double log_sum = std::log(sum);
  auto logprob = [&](int64_t i) {
    return static_cast<float>((static_cast<double>(logits[static_cast<size_t>(i)]) - max_logit) - log_sum);
  };

  TokenLogprobs out;
  out.logprob = logprob(token);
  const auto n = static_cast<size_t>(std::clamp<int64_t>(top, 0, vocab));
  if (n == 0) return out;
  // One pass keeping the n best so far, best first. Ids come in increasing order, so a later
  // equal logit never displaces an earlier one: ties go to the lower id.
  std::vector<int32_t> best;
  best.reserve(n + 1);
  for (int64_t i = 0; i < vocab; ++i) {
    const float x = key(i);
    if (best.size() == n && !(x > key(best.back()))) continue;
    auto at = std::upper_bound(best.begin(), best.end(), x, [&](float v, int32_t b) { return v > key(b); });
    best.insert(at, static_cast<int32_t>(i));
    if (best.size() > n) best.pop_back();
  }
  out.top.reserve(n);
  for (int32_t id : best) out.top.push_back({id, logprob(id)});
  return out;
}

}  // namespace fathom::engine
