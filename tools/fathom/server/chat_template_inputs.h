// What a chat request gives its model's chat template besides the messages:
// the tool definitions (`tools`) and vLLM's `chat_template_kwargs` (a thinking
// switch, say), and the rendering of the prompt with them.
//
// Tools reach the model only through the template: Fathom passes them when the
// template reads `tools` and refuses them (400, naming the field) when it does
// not, rather than dropping them silently. DeepSeek's own templates do not
// present tools; `fathom serve --chat-template FILE` names one that does.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "fathom/tokenizer/tokenizer.h"
#include "server/forced_tool_calls.h"
#include "server/json_fields.h"

namespace fathom::server {

struct ChatTemplateInputs {
  tokenizer::jinja::Dict variables;  // tools, then the chat_template_kwargs
  bool has_tools = false;            // a non-empty tools list was given
  bool tool_choice_none = false;     // tool_choice "none": tools are shown, calls are not parsed
  std::optional<ForcedToolChoice> forced;  // tool_choice "required" or a named function
  bool parallel_tool_calls = true;   // false: a reply makes at most one call (forced or not)
};

// Reads tools (OpenAI's function definitions), tool_choice ("auto", "none",
// "required" or a named function), parallel_tool_calls and chat_template_kwargs
// from a request. `body` is the request text, read again with member order kept so
// that a template printing a schema prints it as the client wrote it.
// Throws ApiError (400) naming the field.
ChatTemplateInputs parse_chat_template_inputs(const JsonFields& fields, std::string_view body);

// The prompt text: the messages through the chat template with `inputs`.
// Throws ApiError (400) when tools were given to a template that never reads
// them, or when the template fails on this conversation.
std::string render_chat_prompt(const tokenizer::Tokenizer& tok, const std::vector<tokenizer::ChatMessage>& messages,
                               const ChatTemplateInputs& inputs, bool add_generation_prompt);

}  // namespace fathom::server
