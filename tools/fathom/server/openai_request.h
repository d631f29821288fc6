// The body of POST /v1/chat/completions and /v1/completions, parsed and validated.
//
// Everything that can be checked without the model is checked here, and every problem is a
// 400 ApiError naming the field: malformed JSON, wrong types, values out of range, and OpenAI
// features Fathom does not implement (tools, JSON-schema keywords it cannot generate for, ...),
// which are refused rather than silently ignored. Fields that do not change the output (user, metadata, ...) and unknown
// fields are ignored, as most OpenAI-compatible servers do.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/engine/grammar.h"
#include "fathom/tokenizer/chat_messages.h"
#include "server/chat_template_inputs.h"

namespace fathom::server {

enum class Endpoint { chat_completions, completions };

// Sampling fields the request set; the rest come from the [generation] defaults.
struct SamplingOverrides {
  std::optional<double> temperature, top_p, min_p, repetition_penalty, presence_penalty, frequency_penalty;
  std::optional<int64_t> top_k;
  std::optional<uint64_t> seed;
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id → bias in [−100, 100]
};

// One prompt of a completions request: a string, or token ids used as given.
struct CompletionPrompt {
  std::optional<std::string> text;
  std::vector<int32_t> ids;
};

struct CompletionRequest {
  Endpoint endpoint = Endpoint::chat_completions;
  std::string model;
  std::vector<tokenizer::ChatMessage> messages;  // chat completions
  ChatTemplateInputs chat_inputs;                // chat completions: tools, chat_template_kwargs
  std::vector<CompletionPrompt> prompts;         // completions: one or more (OpenAI's batch form)
  std::optional<int64_t> max_tokens;             // max_tokens or max_completion_tokens
  SamplingOverrides sampling;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage
  bool continuous_usage = false;  // stream_options.continuous_usage_stats (vLLM): every chunk carries the usage so far
  bool ignore_eos = false;        // extension (as in vLLM): generate past end-of-sequence
  int64_t min_tokens = 0;         // extension (as in vLLM): no EOS or stop token id before this many
  std::vector<int32_t> stop_token_ids;  // extension (as in vLLM): these ids end generation too
  bool return_token_ids = false;  // extension (as in vLLM): choices carry "token_ids"
  // Set when the request asked for log-probabilities: how many top alternatives per token (chat:
  // top_logprobs with logprobs: true; completions: logprobs).
  std::optional<int64_t> logprobs;
  int64_t n = 1;  // choices: n engine requests per prompt; choice p·n + i is prompt p's i-th
  // Completions: the text starts with the prompt, and logprobs (when asked for) cover the prompt
  // tokens too, the first with null (lm-eval's loglikelihood). max_tokens may then be 0.
  bool echo = false;
  bool json_object = false;  // response_format {"type": "json_object"}: JSON mode
  // response_format {"type": "json_schema"} (or vLLM's guided_json): the schema's grammar.
  std::shared_ptr<const engine::Grammar> grammar;
  // Chat with tool_choice "auto" and a tool marked "strict": true: the tools, members in the
  // order sent (strict_tool_calls.h); null otherwise.
  nlohmann::ordered_json strict_tools;
};

// The most choices one request may ask for (OpenAI's limit for n), over all its prompts.
inline constexpr int64_t kMaxChoices = 128;

// The most alternatives per token a request may ask for (as vLLM's default max_logprobs; OpenAI
// allows 20 for chat and 5 for completions).
inline constexpr int64_t kMaxTopLogprobs = 20;

// Throw ApiError (400) on anything malformed.
CompletionRequest parse_chat_completion_request(std::string_view body);
// The parts the other endpoints share: a body that must be one JSON object, and chat `messages`
// (text content parts joined, roles checked) as the chat template takes them.
nlohmann::json parse_json_object(std::string_view body);
std::vector<tokenizer::ChatMessage> parse_chat_messages(const nlohmann::json& messages);
CompletionRequest parse_completion_request(std::string_view body);

}  // namespace fathom::server
