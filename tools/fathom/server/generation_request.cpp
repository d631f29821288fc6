#include "server/generation_request.h"

#include <algorithm>

#include "server/api_error.h"
#include "server/reply_parser.h"
#include "server/strict_tool_calls.h"

namespace fathom::server {

namespace {

std::vector<int32_t> prompt_tokens(const CompletionRequest& r, const tokenizer::Tokenizer& tok, size_t index) {
  const char* field = r.endpoint == Endpoint::chat_completions ? "messages" : "prompt";
  try {
    std::vector<tokenizer::TokenId> ids;
    if (r.endpoint == Endpoint::chat_completions) {
      ids = tok.encode(render_chat_prompt(tok, r.messages, r.chat_inputs, /*add_generation_prompt=*/true),
                       /*add_special_tokens=*/false);
    } else if (index >= r.prompts.size()) {
      throw Error(ErrorCode::internal, "prompt " + std::to_string(index) + " of a request with " +
                                           std::to_string(r.prompts.size()));
    } else if (r.prompts[index].text) {
      ids = tok.encode(*r.prompts[index].text, /*add_special_tokens=*/true);
    } else {
      return r.prompts[index].ids;
    }
    return std::vector<int32_t>(ids.begin(), ids.end());
  } catch (const ApiError&) {
    throw;
  } catch (const Error& e) {
    // Template and encoding failures are about the input: bad content, invalid UTF-8.
    throw bad_request(e.what(), field);
  }
}

ApiError context_length_exceeded(int64_t max_seq_len, int64_t prompt, int64_t completion, const char* param) {
  std::string message = "this model's maximum context length is " + std::to_string(max_seq_len) +
                        " tokens; the request needs " + std::to_string(prompt + completion) + " (" +
                        std::to_string(prompt) + " in the prompt, " + std::to_string(completion) +
                        " for the completion): shorten the prompt or lower max_tokens";
  return bad_request(message, param, "context_length_exceeded");
}

engine::SamplingParams sampling_params(const SamplingOverrides& o, engine::SamplingParams p) {
  if (o.temperature) p.temperature = *o.temperature;
  if (o.top_p) p.top_p = *o.top_p;
  if (o.top_k) p.top_k = *o.top_k;
  if (o.min_p) p.min_p = *o.min_p;
  if (o.repetition_penalty) p.repetition_penalty = *o.repetition_penalty;
  if (o.presence_penalty) p.presence_penalty = *o.presence_penalty;
  if (o.frequency_penalty) p.frequency_penalty = *o.frequency_penalty;
  if (o.seed) p.seed = *o.seed;
  p.logit_bias = o.logit_bias;
  return p;
}

// Strict tools with tool_choice "auto": a reply that opens calls is held to the template's call
// format and the strict tools' schemas from the marker on (strict_tool_calls.h); with a
// response_format schema too, the reply is that schema's JSON or the calls.
void hold_calls_to_their_schemas(const CompletionRequest& request, const tokenizer::Tokenizer& tok,
                                 engine::GenerationRequest& g) {
  const std::optional<CallFormat> format = template_call_format(tok, request.chat_inputs);
  if (!format) {
    throw bad_request("'tools': tools marked \"strict\" need a chat template that renders tool calls in DeepSeek's "
                      "format (the templates in configs/chat-templates/ do), and this model's does not",
                      "tools");
  }
  const auto calls = strict_calls_grammar(*format, request.strict_tools, request.chat_inputs.parallel_tool_calls);
  if (g.grammar) {
    g.grammar = content_or_calls_grammar(*g.grammar, *calls);
  } else {
    g.grammar = calls;
    g.structured_after = std::string(kToolCallsBegin);
  }
}

// The request for one prompt; errors do not say which.
engine::GenerationRequest build_one(const CompletionRequest& request, const tokenizer::Tokenizer& tok,
                                    const RequestDefaults& defaults, size_t prompt_index) {
  engine::GenerationRequest g;
  g.prompt = prompt_tokens(request, tok, prompt_index);
  const auto prompt_len = static_cast<int64_t>(g.prompt.size());
  const char* prompt_field = request.endpoint == Endpoint::chat_completions ? "messages" : "prompt";
  if (prompt_len == 0) throw bad_request("the prompt encodes to no tokens", prompt_field);

  const int64_t room = defaults.max_seq_len - prompt_len;
  if (request.max_tokens) {
    if (*request.max_tokens > room) {
      throw context_length_exceeded(defaults.max_seq_len, prompt_len, *request.max_tokens, "max_tokens");
    }
    g.max_new_tokens = *request.max_tokens;
  } else {
    if (room < 1) throw context_length_exceeded(defaults.max_seq_len, prompt_len, 1, prompt_field);
    g.max_new_tokens = std::min(defaults.max_new_tokens, room);
  }

  g.sampling = sampling_params(request.sampling, defaults.sampling);
  g.stop_strings = request.stop;
  g.ignore_eos = request.ignore_eos;
  g.stop_token_ids = request.stop_token_ids;
  // parallel_tool_calls false with calls the model makes itself (tool_choice "auto"): the end
  // marker of its first call ends the reply. Its text is not sent, and the reply parser closes a
  // call that stops there as it does one cut off (reply_parser.h), so the reply holds that call
  // whole and no other. (Forced calls are limited by their grammar instead.)
  const ChatTemplateInputs& inputs = request.chat_inputs;
  if (request.endpoint == Endpoint::chat_completions && inputs.has_tools && !inputs.tool_choice_none && !inputs.forced &&
      !inputs.parallel_tool_calls) {
    if (const auto id = tok.token_to_id(kToolCallEnd)) g.stop_token_ids.push_back(static_cast<int32_t>(*id));
  }
  g.json_object = request.json_object;
  g.grammar = request.grammar;
  if (!request.strict_tools.is_null()) hold_calls_to_their_schemas(request, tok, g);
  if (request.min_tokens > g.max_new_tokens) {
    throw bad_request("'min_tokens' (" + std::to_string(request.min_tokens) + ") exceeds max_tokens (" +
                          std::to_string(g.max_new_tokens) + ")",
                      "min_tokens");
  }
  g.min_tokens = request.min_tokens;
  if ((g.json_object || g.grammar) && request.min_tokens > 0) {
    throw bad_request("'min_tokens' cannot be combined with structured output (response_format json_object or "
                      "json_schema, guided_json, a tool_choice that forces a call, or tools marked strict)",
                      "min_tokens");
  }
  g.logprobs = request.logprobs;
  // Echo scores the prompt when logprobs are asked for, or when nothing is generated (the engine
  // runs a prompt with no new tokens only to score it).
  if (request.echo && (request.logprobs || g.max_new_tokens == 0)) g.prompt_logprobs = request.logprobs.value_or(0);
  return g;
}

}  // namespace

engine::GenerationRequest build_generation_request(const CompletionRequest& request, const tokenizer::Tokenizer& tok,
                                                   const RequestDefaults& defaults, size_t prompt_index) {
  if (request.prompts.size() <= 1) return build_one(request, tok, defaults, prompt_index);
  try {
    return build_one(request, tok, defaults, prompt_index);
  } catch (const ApiError& e) {
    throw ApiError(e.status(), e.type(), "prompt[" + std::to_string(prompt_index) + "]: " + e.what(), e.param(), e.api_code());
  }
}

std::vector<engine::GenerationRequest> build_generation_requests(const CompletionRequest& request,
                                                                 const tokenizer::Tokenizer& tok,
                                                                 const RequestDefaults& defaults) {
  std::vector<engine::GenerationRequest> out;
  const size_t count = request.endpoint == Endpoint::chat_completions ? 1 : request.prompts.size();
  for (size_t i = 0; i < count; ++i) out.push_back(build_generation_request(request, tok, defaults, i));
  return out;
}

}  // namespace fathom::server
