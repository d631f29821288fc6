#include "fathom/tokenizer/chat_messages.h"

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"

namespace fathom::tokenizer {

namespace {

using nlohmann::json;

const json* member(const json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string string_field(const json& object, const char* key, const std::string& where) {
  const json* value = member(object, key);
  if (!value) throw invalid_argument(where + "." + key + ": missing (the chat template needs a string)");
  if (!value->is_string()) {
    throw invalid_argument(where + "." + key + ": must be a string, not " + std::string(value->type_name()));
  }
  return value->get<std::string>();
}

std::vector<ToolCall> tool_calls_from_json(const json& calls, const std::string& where) {
  if (!calls.is_array()) {
    throw invalid_argument(where + ".tool_calls: must be a list, not " + std::string(calls.type_name()));
  }
  std::vector<ToolCall> result;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const json& call = calls[i];
    const std::string call_where = where + ".tool_calls[" + std::to_string(i) + "]";
    if (!call.is_object()) throw invalid_argument(call_where + ": must be an object");
    const json* function = member(call, "function");
    if (!function || !function->is_object()) throw invalid_argument(call_where + ".function: must be an object");
    const json* arguments = member(*function, "arguments");
    if (arguments && (arguments->is_object() || arguments->is_array())) {
      throw invalid_argument(call_where +
                             ".function.arguments: must be a string holding JSON; the chat template "
                             "concatenates it and cannot serialise an object");
    }
    result.push_back({string_field(call, "type", call_where), string_field(*function, "name", call_where + ".function"),
                      string_field(*function, "arguments", call_where + ".function")});
  }
  return result;
}

}  // namespace

std::vector<ChatMessage> chat_messages_from_json(const json& messages, const std::string& where) {
  if (!messages.is_array()) {
    throw invalid_argument(where + ": messages must be a list, not " + std::string(messages.type_name()));
  }
  std::vector<ChatMessage> result;
  result.reserve(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& message = messages[i];
    const std::string message_where = where + ": messages[" + std::to_string(i) + "]";
    if (!message.is_object()) throw invalid_argument(message_where + ": must be an object");
    ChatMessage converted;
    converted.role = string_field(message, "role", message_where);
    const bool known_role = converted.role == "user" || converted.role == "system" || converted.role == "tool" ||
                            converted.role == "assistant";
    if (converted.role == "assistant") {
      const json* calls = member(message, "tool_calls");
      if (calls && !calls->is_null()) {
        converted.tool_calls = tool_calls_from_json(*calls, message_where);
        converted.has_tool_calls = true;
      }
      // OpenAI lets a turn that calls tools leave content out; it is null then.
      const json* content = member(message, "content");
      const bool null_content = content ? content->is_null() : converted.has_tool_calls;
      if (!null_content) converted.content = string_field(message, "content", message_where);
    } else if (known_role) {
      converted.content = string_field(message, "content", message_where);
    }
    for (auto it = message.begin(); it != message.end(); ++it) {
      if (it.key() == "role") continue;
      if (known_role && it.key() == "content") continue;
      if (converted.has_tool_calls && it.key() == "tool_calls") continue;
      converted.other_fields.emplace_back(it.key(), jinja::Value::from_json(it.value()));
    }
    result.push_back(std::move(converted));
  }
  return result;
}

}  // namespace fathom::tokenizer
