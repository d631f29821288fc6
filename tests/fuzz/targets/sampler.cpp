// The sampler on arbitrary logits (NaN and infinities included: a broken checkpoint or an
// overflow makes them) with parameters anywhere in the ranges the server and the deployment file
// accept: it returns an id inside the vocabulary, the same id again for the same seed, and, for
// finite logits without penalties, an id the filters keep: at temperature 0 the first largest
// logit; otherwise one of the top_k largest, inside the smallest set of most likely tokens whose
// probability reaches top_p, and at least min_p times as likely as the most likely token
// (the definitions, worked out here in long double with a margin for rounding).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "fathom/engine/sampler.h"
#include "fuzz_support.h"

namespace {

// Takes values off the front of the input; past its end, zeros.
class InputReader {
 public:
  InputReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  // A value in [lo, hi] in 256 steps, with both ends reachable.
  double in_range(double lo, double hi) { return lo + (hi - lo) * byte() / 255.0; }
  float raw_float() {
    std::uint8_t b[4] = {byte(), byte(), byte(), byte()};
    float f;
    std::memcpy(&f, b, sizeof f);
    return f;
  }
  std::size_t left() const { return size_ - std::min(pos_, size_); }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// Whether the filters keep token `id` (finite logits, no penalties, temperature > 0).
bool kept_by_filters(const std::vector<float>& logits, std::int32_t id, const fathom::engine::SamplingParams& p) {
  constexpr long double kMargin = 1e-9L;
  const long double max = *std::max_element(logits.begin(), logits.end());
  const auto prob = [&](float l) { return std::exp((static_cast<long double>(l) - max) / p.temperature); };
  // top_p is applied to the top_k candidates' distribution (renormalised), as in transformers.
  std::vector<float> sorted(logits);
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  if (p.top_k > 0 && sorted.size() > static_cast<std::size_t>(p.top_k)) sorted.resize(static_cast<std::size_t>(p.top_k));
  long double total = 0;
  for (float l : sorted) total += prob(l);
  const float mine = logits[static_cast<std::size_t>(id)];
  // Tokens strictly more likely than this one, and their mass: with ties the sampler may keep
  // either, so only what lies strictly above counts against it.
  std::size_t above = 0;
  long double mass_above = 0;
  for (float l : logits) {
    if (l > mine) ++above, mass_above += prob(l);
  }
  if (p.top_k > 0 && above >= static_cast<std::size_t>(p.top_k)) return false;
  if (p.top_p < 1.0 && mass_above / total >= p.top_p + kMargin) return false;
  if (p.min_p > 0 && prob(mine) < p.min_p * (1 - kMargin)) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  InputReader in(data, size);
  fathom::engine::SamplingParams p;
  p.temperature = in.byte() % 4 == 0 ? 0.0 : in.in_range(0.0, 2.0);
  p.top_p = std::max(in.in_range(0.0, 1.0), 1e-9);  // (0, 1]
  p.top_k = in.byte() % 3 == 0 ? 0 : in.byte();
  p.min_p = in.byte() % 2 == 0 ? 0.0 : in.in_range(0.0, 1.0);
  const bool penalised = in.byte() % 2 == 1;  // else the defaults: no penalty at all
  if (penalised) {
    p.repetition_penalty = in.in_range(0.01, 100.0);
    p.presence_penalty = in.in_range(-2.0, 2.0);
    p.frequency_penalty = in.in_range(-2.0, 2.0);
  }
  p.seed = in.byte();
  std::vector<std::int32_t> prompt(in.byte() % 8), output(in.byte() % 8);
  for (auto& id : prompt) id = static_cast<std::int8_t>(in.byte());  // negative and too-large ids too
  for (auto& id : output) id = static_cast<std::int8_t>(in.byte());
  std::vector<float> logits;
  while (in.left() >= 4 && logits.size() < 512) logits.push_back(in.raw_float());

  fathom::fuzz::expect_only_fathom_errors([&] {
    fathom::engine::Sampler first(p), second(p);
    const std::int32_t id = first.sample(logits, prompt, output);
    if (id < 0 || static_cast<std::size_t>(id) >= logits.size()) fathom::fuzz::fail("sampled id outside the vocabulary", "");
    if (second.sample(logits, prompt, output) != id) fathom::fuzz::fail("the same seed sampled another id", "");
    const bool finite = std::all_of(logits.begin(), logits.end(), [](float l) { return std::isfinite(l); });
    if (penalised || !finite) return;
    if (p.temperature == 0.0) {
      const auto argmax = std::max_element(logits.begin(), logits.end()) - logits.begin();
      if (id != argmax) fathom::fuzz::fail("greedy sampling did not pick the first largest logit", "");
    } else if (!kept_by_filters(logits, id, p)) {
      fathom::fuzz::fail("sampled a token that top_k, top_p or min_p removes", "");
    }
  });
  return 0;
}
