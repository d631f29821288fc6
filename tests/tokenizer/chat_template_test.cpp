// The DeepSeek-V3 chat format, byte for byte against Jinja2 renders of the template.
#include <gtest/gtest.h>

#include "fathom/core/error.h"
#include "fathom/tokenizer/chat_template.h"
#include "test_support.h"

namespace fathom::tokenizer {
namespace {

using testing::deepseek_v3;
using testing::read_jsonl;

std::size_t check_renders(const std::filesystem::path& file) {
  std::size_t matched = 0;
  const auto cases = read_jsonl(file);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto messages = chat_messages_from_json(cases[i]["messages"], file.filename().string());
    const std::string rendered = deepseek_v3().render_chat(messages, cases[i]["add_generation_prompt"].get<bool>());
    const auto expected = cases[i]["rendered"].get<std::string>();
    EXPECT_EQ(rendered, expected) << file.filename() << " line " << i + 1;
    matched += rendered == expected;
  }
  std::printf("[ renders  ] %s: %zu/%zu byte-identical\n", file.filename().c_str(), matched, cases.size());
  return cases.size();
}

TEST(ChatTemplate, SharedConversationsRenderByteIdentical) {
  EXPECT_EQ(check_renders(testing::kChatTemplateData), 12u);
}

// 240 generated conversations (gen_chat_template_cases.py): several tool rounds,
// system turns anywhere, ignored roles.
TEST(ChatTemplate, GeneratedConversationsRenderByteIdentical) {
  EXPECT_EQ(check_renders(std::filesystem::path(FATHOM_SOURCE_DIR) / "tests/tokenizer/data/chat_template_cases.jsonl"),
            240u);
}

TEST(ChatTemplate, FlagsOfTheTemplateAreNeverReset) {
  // The second round's first call renders as a continuation, and its output
  // has no outputs-begin marker: exactly what Jinja gives.
  const auto messages = chat_messages_from_json(nlohmann::json::parse(R"([
    {"role": "user", "content": "u1"},
    {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]},
    {"role": "tool", "content": "r1"},
    {"role": "assistant", "content": "a1"},
    {"role": "user", "content": "u2"},
    {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "g", "arguments": "{}"}}]},
    {"role": "tool", "content": "r2"}])"), "test");
  EXPECT_EQ(deepseek_v3().render_chat(messages, true),
            "<｜begin▁of▁sentence｜><｜User｜>u1<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function"
            "<｜tool▁sep｜>f\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>r1"
            "<｜tool▁output▁end｜><｜tool▁outputs▁end｜>a1<｜end▁of▁sentence｜><｜User｜>u2\n<｜tool▁call▁begin｜>function"
            "<｜tool▁sep｜>g\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>\n"
            "<｜tool▁output▁begin｜>r2<｜tool▁output▁end｜><｜tool▁outputs▁end｜>");
}

void expect_rejected(const char* messages_json, const std::string& fragment) {
  try {
    chat_messages_from_json(nlohmann::json::parse(messages_json), "input.jsonl:3");
    FAIL() << "accepted " << messages_json;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(ChatMessages, RejectWhatTheTemplateWouldFailOn) {
  expect_rejected(R"({"role": "user"})", "input.jsonl:3: messages must be a list");
  expect_rejected(R"([{"role": "user"}])", "messages[0].content: missing");
  expect_rejected(R"([{"role": "user", "content": null}])", "messages[0].content: must be a string");
  expect_rejected(R"([{"content": "x"}])", "messages[0].role: missing");
  expect_rejected(R"([{"role": "assistant"}])", "messages[0].content: missing");
  expect_rejected(R"([{"role": "assistant", "content": null, "tool_calls": 5}])", "tool_calls: must be a list");
  expect_rejected(R"([{"role": "assistant", "content": null, "tool_calls": [{"type": "function",
                     "function": {"name": "f", "arguments": {"x": 1}}}]}])",
                  "messages[0].tool_calls[0].function.arguments: must be a string holding JSON");
  expect_rejected(R"([{"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f",
                     "arguments": "{}"}}]}])",
                  "messages[0].tool_calls[0].type: missing");
}

TEST(ChatMessages, OtherRolesAndFieldsReachTheTemplateAsSent) {
  // Roles the template skips are not checked; extra fields (name, tool_call_id, ...) pass through.
  const auto messages = chat_messages_from_json(nlohmann::json::parse(R"([
    {"role": "developer", "content": 5},
    {"role": "assistant", "content": "hi", "name": "bot", "tool_calls": null}])"), "test");
  EXPECT_EQ(deepseek_v3().render_chat(messages, false), "<｜begin▁of▁sentence｜><｜Assistant｜>hi<｜end▁of▁sentence｜>");
  const auto t = ChatTemplate::from_source(
      "{% for m in messages %}{{ m.role }}:{{ m.content }}:{{ m.name }}:{{ m.tool_calls is none }}|{% endfor %}", {}, "t");
  EXPECT_EQ(t.render(messages, false), "developer:5::False|assistant:hi:bot:True|");
  // A turn that calls tools may leave content out (OpenAI allows it): it is null.
  const auto calling = chat_messages_from_json(nlohmann::json::parse(R"([{"role": "assistant", "tool_calls": [
    {"type": "function", "function": {"name": "f", "arguments": "{}"}}]}])"), "test");
  ASSERT_EQ(calling.size(), 1u);
  EXPECT_FALSE(calling[0].content);
  EXPECT_EQ(calling[0].tool_calls.size(), 1u);
  // tool_calls beside content are checked, since templates from R1 on render both.
  expect_rejected(R"([{"role": "assistant", "content": "hi", "tool_calls": "not a list"}])",
                  "messages[0].tool_calls: must be a list");
}

TEST(ChatTemplate, TemplatesFathomCannotRunAreRefusedAtLoad) {
  try {
    ChatTemplate::from_source("{% macro greet() %}hi{% endmacro %}", {}, "tokenizer_config.json: chat_template");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported);
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json: chat_template:1:4: the 'macro' statement is not supported"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fathom::tokenizer
