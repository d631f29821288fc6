// A conversation as the chat template sees it, and its conversion from the
// OpenAI-style JSON `messages` array.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <vector>

namespace fathom::tokenizer {

struct ToolCall {
  std::string type;       // "function"
  std::string name;       // function.name
  std::string arguments;  // function.arguments: JSON text, inserted verbatim
};

struct ChatMessage {
  std::string role;                    // "system", "user", "assistant", "tool"; others are ignored
  std::optional<std::string> content;  // nullopt: JSON null, an assistant turn that only calls tools
  std::vector<ToolCall> tool_calls;    // read for assistant turns whose content is null
};

// Converts `messages` (a JSON array of {"role", "content", "tool_calls"}) and
// rejects, with an invalid_argument error prefixed by `where`, every input on
// which DeepSeek's Jinja template would fail: a user, system or tool turn
// without string content; an assistant turn whose content is neither a string
// nor null; tool_calls that are null or not a list; a tool call whose type,
// function.name or function.arguments is not a string (the template
// concatenates them, so arguments must be JSON already encoded as a string).
// Fields the template does not read are not checked.
std::vector<ChatMessage> chat_messages_from_json(const nlohmann::json& messages, const std::string& where);

}  // namespace fathom::tokenizer
