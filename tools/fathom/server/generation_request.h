// From a validated OpenAI request to what the engine runs: the prompt tokens (chat template or
// plain text), the sampling parameters over the [generation] defaults, the token budget.
#pragma once

#include <cstdint>
#include <vector>

#include "fathom/engine/engine.h"
#include "fathom/tokenizer/tokenizer.h"
#include "server/openai_request.h"

namespace fathom::server {

// What a request does not say.
struct RequestDefaults {
  engine::SamplingParams sampling;  // from [generation]
  int64_t max_new_tokens = 512;     // generation.max_new_tokens
  int64_t max_seq_len = 4096;       // runtime.max_seq_len: prompt + completion
  bool parse_reasoning = false;     // --reasoning-parser deepseek-r1: chat replies carry reasoning_content
};

// Chat: the messages rendered with the chat template (generation prompt added), encoded without
// adding BOS (the template writes it). Completions: prompt `prompt_index` encoded with the
// tokenizer's special tokens, or its token ids as given.
//
// An explicit max_tokens that does not fit after the prompt is a 400 context_length_exceeded;
// the default is shortened to fit. Throws ApiError; with several prompts its message names the one.
engine::GenerationRequest build_generation_request(const CompletionRequest& request, const tokenizer::Tokenizer& tok,
                                                   const RequestDefaults& defaults, size_t prompt_index = 0);
// One per prompt: chat's one, or each prompt of a completions request, in order.
std::vector<engine::GenerationRequest> build_generation_requests(const CompletionRequest& request,
                                                                 const tokenizer::Tokenizer& tok,
                                                                 const RequestDefaults& defaults);

}  // namespace fathom::server
