// A conversation as the chat template sees it, and its conversion from the
// OpenAI-style JSON `messages` array.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <vector>

#include "fathom/tokenizer/jinja_value.h"

namespace fathom::tokenizer {

struct ToolCall {
  std::string type;       // "function"
  std::string name;       // function.name
  std::string arguments;  // function.arguments: JSON text, inserted verbatim
};

struct ChatMessage {
  std::string role;                    // "system", "user", "assistant", "tool", or another the template may read
  std::optional<std::string> content;  // nullopt on an assistant turn: JSON null (a turn that only calls tools)
  std::vector<ToolCall> tool_calls;    // an assistant turn's calls
  bool has_tool_calls = false;         // the turn had a tool_calls list (templates test `'tool_calls' in message`)
  jinja::Dict other_fields;            // every other member as sent (name, tool_call_id, reasoning_content, ...);
                                       // for roles other than the four, content too
};

// A turn of plain text (what the CLI's chat loop builds).
inline ChatMessage text_message(std::string role, std::string content) {
  ChatMessage message;
  message.role = std::move(role);
  message.content = std::move(content);
  return message;
}

// Converts `messages` (a JSON array of OpenAI chat messages) and rejects, with
// an invalid_argument error prefixed by `where`, what the OpenAI protocol does
// not allow and DeepSeek's templates would fail on: a user, system or tool turn
// without string content; an assistant turn whose content is neither a string
// nor null (a turn with tool_calls may leave it out: null); tool_calls that are not a list; a tool call whose type,
// function.name or function.arguments is not a string (templates concatenate
// them, so arguments must be JSON already encoded as a string). Other members,
// and every member of other roles, reach the template as they were sent.
std::vector<ChatMessage> chat_messages_from_json(const nlohmann::json& messages, const std::string& where);

}  // namespace fathom::tokenizer
