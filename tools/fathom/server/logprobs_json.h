// The `logprobs` of a choice or stream chunk, in the two shapes the OpenAI API uses:
//
//   chat:        {"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}]}
//   completions: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}
//
// One entry per generated token, the end-of-sequence token included, so that there are as many
// as usage.completion_tokens. "token" is what the tokenizer decodes the id to; a token that
// holds part of a UTF-8 character shows U+FFFD there, and "bytes" (chat) has its exact bytes.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/engine/logprobs.h"
#include "fathom/tokenizer/tokenizer.h"
#include "server/openai_request.h"

namespace fathom::server {

struct LoggedToken {
  int32_t token = 0;
  engine::TokenLogprobs logprobs;
};

// Builds the logprobs of consecutive tokens of one choice. A stream calls add() per chunk; the
// completions shape's text_offset (where each token's text begins in the completion, in
// characters) carries on from one call to the next.
class LogprobsJson {
 public:
  LogprobsJson(Endpoint endpoint, const tokenizer::Tokenizer& tok) : endpoint_(endpoint), tok_(&tok) {}

  nlohmann::json build(const std::vector<LoggedToken>& tokens);
  // Completions with echo: the prompt's entries, its first token's log-probability and
  // alternatives null (nothing precedes it), the others from `scored` (prompt[1..], the engine's
  // prompt_logprobs). Text offsets start at 0 and carry on into build().
  nlohmann::json build_prompt(std::span<const int32_t> prompt, const std::vector<engine::TokenLogprobs>& scored);
  // Appends the entries of `more` to `into` (both in the completions shape, or `into` null).
  static void append(nlohmann::json& into, const nlohmann::json& more);

 private:
  nlohmann::json chat_entry(const LoggedToken& t) const;
  // A completions-shape entry: token text, its log-probability and alternatives (null for none).
  void add_completion_entry(nlohmann::json& out, int32_t token, const engine::TokenLogprobs* logprobs);

  Endpoint endpoint_;
  const tokenizer::Tokenizer* tok_;  // a pointer, so that a vector of builders (one per choice) can hold it
  int64_t text_offset_ = 0;
};

}  // namespace fathom::server
