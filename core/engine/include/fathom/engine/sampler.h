// Turning logits into the next token: penalties, logit biases, temperature, top-k, top-p, min-p, and a seeded
// random draw (the same seed gives the same tokens). Temperature 0 is greedy (argmax, ties to the
// lower id).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fathom::engine {

struct SamplingParams {
  double temperature = 0.6;
  double top_p = 0.95;            // 1 = off
  int64_t top_k = 0;              // 0 = off
  double min_p = 0.0;             // 0 = off
  double repetition_penalty = 1.0;  // HF style, over prompt and output: 1 = off
  double presence_penalty = 0.0;    // OpenAI style, over the output
  double frequency_penalty = 0.0;   // OpenAI style, over the output
  // OpenAI's logit_bias: added to the token's logit after the penalties, before everything else
  // (−100 in effect bans a token, +100 in effect forces it). Ids must be in the vocabulary.
  std::vector<std::pair<int32_t, float>> logit_bias;
  std::optional<uint64_t> seed;     // unset: a random seed
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Picks a token from `logits` (one row, vocab entries). `prompt` and `output` are the tokens
  // so far, for the penalties.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> prompt, std::span<const int32_t> output);

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<float> work_;
  std::vector<int32_t> order_;
};

}  // namespace fathom::engine
