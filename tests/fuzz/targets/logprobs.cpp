// token_logprobs (the logprobs a server returns) on arbitrary logits, NaN and infinities
// included: for a token inside the vocabulary it returns min(top, vocabulary) alternatives, no id
// twice, ranked by logit with NaN last and ties to the lower id; for finite logits every
// log-probability is at most 0 (to rounding), the chosen token's agrees with its entry among the
// alternatives, and the alternatives' probabilities add up to at most 1. A token outside the
// vocabulary, or an empty row, is a fathom::Error.
#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include "fathom/engine/logprobs.h"
#include "fuzz_support.h"

namespace {

float rank_key(float x) { return std::isnan(x) ? -INFINITY : x; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::int64_t top = data[0];
  std::int16_t token_bits;
  std::memcpy(&token_bits, data + 1, sizeof token_bits);
  const std::int32_t token = token_bits;  // negative and too-large ids too
  std::vector<float> logits((size - 3) / 4);
  if (!logits.empty()) std::memcpy(logits.data(), data + 3, logits.size() * sizeof(float));

  fathom::fuzz::expect_only_fathom_errors([&] {
    const fathom::engine::TokenLogprobs got = fathom::engine::token_logprobs(logits, token, top);
    if (token < 0 || static_cast<std::size_t>(token) >= logits.size()) fathom::fuzz::fail("a token outside the vocabulary was scored", "");
    if (got.top.size() != std::min<std::size_t>(static_cast<std::size_t>(top), logits.size())) {
      fathom::fuzz::fail("wrong number of alternatives", "");
    }
    std::set<std::int32_t> ids;
    for (std::size_t i = 0; i < got.top.size(); ++i) {
      const std::int32_t id = got.top[i].token;
      if (id < 0 || static_cast<std::size_t>(id) >= logits.size() || !ids.insert(id).second) {
        fathom::fuzz::fail("an alternative outside the vocabulary or twice", "");
      }
      if (i == 0) continue;
      const float prev = rank_key(logits[static_cast<std::size_t>(got.top[i - 1].token)]), mine = rank_key(logits[static_cast<std::size_t>(id)]);
      if (prev < mine || (prev == mine && got.top[i - 1].token > id)) fathom::fuzz::fail("alternatives out of order", "");
    }
    // Nothing left out ranks above the last alternative kept.
    if (!got.top.empty()) {
      const float last = rank_key(logits[static_cast<std::size_t>(got.top.back().token)]);
      for (std::size_t i = 0; i < logits.size(); ++i) {
        if (!ids.count(static_cast<std::int32_t>(i)) && rank_key(logits[i]) > last) fathom::fuzz::fail("a better token was left out", "");
      }
    }
    for (float l : logits) {
      if (!std::isfinite(l)) return;
    }
    constexpr double kRounding = 1e-5;
    if (got.logprob > kRounding) fathom::fuzz::fail("a log-probability above 0", "");
    double mass = 0;
    for (const auto& alt : got.top) {
      if (alt.logprob > kRounding) fathom::fuzz::fail("an alternative's log-probability above 0", "");
      if (alt.token == token && alt.logprob != got.logprob) fathom::fuzz::fail("the chosen token's two log-probabilities differ", "");
      mass += std::exp(static_cast<double>(alt.logprob));
    }
    if (mass > 1 + 1e-4) fathom::fuzz::fail("the alternatives' probabilities add up to more than 1", "");
  });
  return 0;
}
