// Tools marked `"strict": true` with tool_choice "auto" (OpenAI's strict function calling, as
// agent frameworks send it): the model still decides whether to call and what to say first, but
// once it opens its calls with <｜tool▁calls▁begin｜> the rest of the reply is held to its own
// call format and to each strict tool's parameters schema (llama.cpp does the same with a grammar
// it turns on at the call's first marker). The engine's structured_after waits for the marker;
// the grammar here is what may follow it.
//
// The format is the one the chat template renders calls in, read off a probe conversation: V3
// and R1 write "function<｜tool▁sep｜>NAME\n```json\nARGS\n```" between the call markers, V3.1
// "NAME<｜tool▁sep｜>ARGS" — the reply parser (reply_parser.h) reads both back.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "fathom/engine/grammar.h"
#include "fathom/tokenizer/tokenizer.h"
#include "server/chat_template_inputs.h"

namespace fathom::server {

// How one call and the space between two calls are written.
struct CallFormat {
  enum class Name { v3, v31 } name;
  std::string between_calls;  // what the template writes between one call's end and the next's begin
};

// Whether any of the request's tools is marked strict.
bool any_strict_tool(const nlohmann::ordered_json& tools);

// How the chat template writes an assistant's calls, or nullopt when it renders them in neither
// of DeepSeek's formats (or not at all).
std::optional<CallFormat> template_call_format(const tokenizer::Tokenizer& tok, const ChatTemplateInputs& inputs);

// What may follow <｜tool▁calls▁begin｜>: one call (`parallel` false) or more, each of one of the
// tools — a strict tool's arguments per its schema, another's any JSON object — then
// <｜tool▁calls▁end｜>. Throws ApiError (400) naming a strict tool whose schema cannot be generated for.
std::shared_ptr<const engine::Grammar> strict_calls_grammar(const CallFormat& format, const nlohmann::ordered_json& tools,
                                                            bool parallel);

// A reply that is either `content` (a response_format's grammar) or <｜tool▁calls▁begin｜> and `calls`.
std::shared_ptr<const engine::Grammar> content_or_calls_grammar(const engine::Grammar& content,
                                                                const engine::Grammar& calls);

}  // namespace fathom::server
