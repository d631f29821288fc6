// The Jinja interpreter chat templates run on, on arbitrary template text.
//
// Input: a template. It parses or is refused with fathom::Error (naming line and
// column); one that parses renders a fixed conversation — tool calls, a tool
// schema, a namespace-free and a thinking flag — or fails with fathom::Error
// (an undefined value used, a type error, raise_exception, the step budget).
// What the renders should be is checked against transformers in
// tests/tokenizer/jinja_test.cpp; here the rule is only: nothing else escapes.
#include <nlohmann/json.hpp>

#include "fathom/tokenizer/chat_template.h"
#include "fuzz_support.h"

namespace {

const std::vector<fathom::tokenizer::ChatMessage>& conversation() {
  static const auto messages = fathom::tokenizer::chat_messages_from_json(nlohmann::json::parse(R"([
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris? 🚀 ünï"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "content": "18 C", "tool_call_id": "c1"},
    {"role": "assistant", "content": "<think>\nok\n</think>\n\nIt is 18 C."},
    {"role": "user", "content": ""}])"), "fuzz");
  return messages;
}

const fathom::tokenizer::jinja::Dict& extra() {
  static const fathom::tokenizer::jinja::Dict variables{
      {"tools", fathom::tokenizer::jinja::Value::from_json(nlohmann::json::parse(R"([{"type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])"))},
      {"thinking", fathom::tokenizer::jinja::Value(true)},
  };
  return variables;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fathom::fuzz::expect_only_fathom_errors([&] {
    const auto chat = fathom::tokenizer::ChatTemplate::from_source(
        fathom::fuzz::as_text(data, size), {{"bos_token", fathom::tokenizer::jinja::Value("<s>")}}, "fuzz.jinja");
    for (const bool add_generation_prompt : {false, true}) chat.render(conversation(), add_generation_prompt, extra());
  });
  return 0;
}
