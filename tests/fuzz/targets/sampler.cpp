// The sampler on arbitrary logits (NaN and infinities included: a broken checkpoint or an
// overflow makes them) with parameters anywhere in the ranges the server and the deployment file
// accept: it returns an id inside the vocabulary, the same id again for the same seed, and at
// temperature 0 the first largest logit when there is no NaN.
#include <algorithm>
#include <cmath>
#include <cstring>
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
    const bool has_nan = std::any_of(logits.begin(), logits.end(), [](float l) { return std::isnan(l); });
    if (p.temperature == 0.0 && !penalised && !has_nan) {
      const auto argmax = std::max_element(logits.begin(), logits.end()) - logits.begin();
      if (id != argmax) fathom::fuzz::fail("greedy sampling did not pick the first largest logit", "");
    }
  });
  return 0;
}
