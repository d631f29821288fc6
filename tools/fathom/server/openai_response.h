// The JSON Fathom answers with, in the shapes the OpenAI API uses: a whole response
// ("chat.completion" / "text_completion"), stream chunks ("chat.completion.chunk" /
// "text_completion"), and the final usage chunk of a stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/engine/engine.h"
#include "server/openai_request.h"
#include "server/reply_parser.h"
#include "server/tool_call.h"

namespace fathom::server {

// What every response and chunk of one request repeats.
struct ResponseHeader {
  Endpoint endpoint = Endpoint::chat_completions;
  std::string id;       // "chatcmpl-…" or "cmpl-…"
  int64_t created = 0;  // Unix seconds
  std::string model;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens served from the cache (prompt_tokens_details)
};

// A fresh header: a random id with the endpoint's prefix, the current time.
ResponseHeader new_response_header(Endpoint endpoint, const std::string& model);

// "stop" or "length"; other reasons never reach a client as a finish_reason.
std::string finish_reason_text(engine::FinishReason reason);

// One choice of a whole response.
struct Choice {
  std::string text;
  std::string finish_reason;
  std::optional<std::vector<int32_t>> token_ids;  // set when the request asked for them (return_token_ids)
  nlohmann::json logprobs;                        // the choice's (logprobs_json.h); null when not asked for
  // Chat replies split by a ReplyParser: reasoning_content when the server parses reasoning,
  // tool_calls when the model called tools; content is null when only those remain.
  std::optional<std::string> reasoning;
  std::vector<ParsedToolCall> tool_calls;
  bool null_content = false;
};
// The choices in order: choice i gets "index": i.
nlohmann::json full_response(const ResponseHeader& h, const std::vector<Choice>& choices, const Usage& usage);

// One stream chunk. `first` marks the chat stream's opening chunk (it carries the role);
// `finish_reason` is set on the last chunk of the choice; `with_usage_field` adds "usage": null
// as OpenAI does when stream_options.include_usage is on (the content's usage, when it has one).
struct ChunkContent {
  int64_t index = 0;  // of the choice
  std::string text;
  std::string reasoning;                   // a reasoning_content delta
  std::vector<ToolCallDelta> tool_calls;  // pieces of the reply's calls (a call's first piece names it)
  std::optional<std::string> finish_reason;
  std::optional<std::vector<int32_t>> token_ids;
  nlohmann::json logprobs;  // of the chunk's tokens; null when not asked for
  bool first = false;
  std::optional<Usage> usage;  // continuous_usage_stats: the choice's usage so far, in place of null
};
nlohmann::json stream_chunk(const ResponseHeader& h, const ChunkContent& content, bool with_usage_field);

// An id for a tool call ("call_" and 24 random letters and digits).
std::string new_tool_call_id();

// The finish_reason of a chat choice that `called` tools: "tool_calls" unless cut off.
std::string finish_reason_with_calls(const std::string& reason, bool called);

// The chunk after the last choice chunk when include_usage is on: no choices, the usage.
nlohmann::json usage_chunk(const ResponseHeader& h, const Usage& usage);

// Serialises for the wire; text from the model is valid UTF-8, but a stray byte must not throw.
std::string to_wire(const nlohmann::json& j);

}  // namespace fathom::server
