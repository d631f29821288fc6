// Log-probabilities of generated tokens, as OpenAI's `logprobs` reports them: the chosen token's
// and the most likely alternatives', under the model's own distribution (the log-softmax of the
// raw logits, before penalties, temperature and truncation, as vLLM reports them by default).
// They say how sure the model was, independent of how the token was then picked.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fathom::engine {

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
};

struct TokenLogprobs {
  float logprob = 0;              // of the generated token
  std::vector<TokenLogprob> top;  // the `top` most likely tokens, most likely first, ties to the lower id
};

// `logits`: one row over the vocabulary. `top` is capped at the vocabulary size.
// Throws invalid_argument for an empty row or a token outside it.
TokenLogprobs token_logprobs(std::span<const float> logits, int32_t token, int64_t top);

}  // namespace fathom::engine
