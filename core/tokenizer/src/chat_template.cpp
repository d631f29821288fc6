#include "fathom/tokenizer/chat_template.h"

namespace fathom::tokenizer {

namespace {

jinja::Value tool_call_value(const ToolCall& call) {
  return jinja::Value(jinja::Dict{
      {"type", jinja::Value(call.type)},
      {"function", jinja::Value(jinja::Dict{{"name", jinja::Value(call.name)}, {"arguments", jinja::Value(call.arguments)}})},
  });
}

// A message as the template sees it: the dict the client sent, with the
// fields Fathom checked and any others it passed along.
jinja::Value message_value(const ChatMessage& message) {
  jinja::Dict fields{{"role", jinja::Value(message.role)}};
  if (message.content) fields.emplace_back("content", jinja::Value(*message.content));
  else if (message.role == "assistant") fields.emplace_back("content", jinja::Value(jinja::None{}));
  if (message.has_tool_calls) {
    jinja::List calls;
    for (const ToolCall& call : message.tool_calls) calls.push_back(tool_call_value(call));
    fields.emplace_back("tool_calls", jinja::Value(std::move(calls)));
  }
  fields.insert(fields.end(), message.other_fields.begin(), message.other_fields.end());
  return jinja::Value(std::move(fields));
}

}  // namespace

ChatTemplate ChatTemplate::from_source(std::string_view source, jinja::Dict special_tokens, const std::string& where) {
  return ChatTemplate(jinja::Template::parse(source, where), std::move(special_tokens));
}

std::string ChatTemplate::render(std::span<const ChatMessage> messages, bool add_generation_prompt,
                                 const jinja::Dict& extra) const {
  jinja::List message_values;
  message_values.reserve(messages.size());
  for (const ChatMessage& message : messages) message_values.push_back(message_value(message));

  // What apply_chat_template passes: tools and documents are None unless given.
  jinja::Dict variables{
      {"messages", jinja::Value(std::move(message_values))},
      {"tools", jinja::Value(jinja::None{})},
      {"documents", jinja::Value(jinja::None{})},
      {"add_generation_prompt", jinja::Value(add_generation_prompt)},
  };
  variables.insert(variables.end(), special_tokens_.begin(), special_tokens_.end());
  for (const auto& [name, value] : extra) jinja::set_member(variables, name, value);
  return template_.render(variables);
}

}  // namespace fathom::tokenizer
