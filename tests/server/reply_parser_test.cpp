// Splitting chat replies into reasoning, content and tool calls. The tool-call
// texts are not written here: they are what DeepSeek's own chat templates (V3
// from ../shared, V3.1 from tests/tokenizer/data/templates) render for an
// assistant turn's tool_calls, so a reply in the model's trained format parses
// back to the calls it came from.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fathom/tokenizer/chat_template.h"
#include "server/openai_response.h"
#include "server/reply_parser.h"

namespace fathom::server {
namespace {

using nlohmann::json;

struct Split {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallDelta> pieces;
  std::vector<ParsedToolCall> calls;
  bool called = false;
};

void add(Split& out, const ReplyParts& parts) {
  out.reasoning += parts.reasoning;
  out.content += parts.content;
  out.pieces.insert(out.pieces.end(), parts.calls.begin(), parts.calls.end());
}

// The reply fed in pieces of `step` bytes (markers and UTF-8 characters cut anywhere), or whole.
Split split(Reasoning reasoning, bool tools, std::string_view text, size_t step) {
  ReplyParser p(reasoning, tools);
  Split out;
  for (size_t i = 0; i < text.size(); i += step) add(out, p.feed(text.substr(i, step)));
  const ReplyParser::Final rest = p.finish();
  add(out, rest.rest);
  out.called = rest.called;
  out.calls = join_call_deltas(out.pieces);
  return out;
}

void expect_split(Reasoning reasoning, bool tools, std::string_view text, const std::string& want_reasoning,
                  const std::string& want_content, const std::vector<ParsedToolCall>& want_calls = {}) {
  for (size_t step : {text.size() + 1, size_t{1}, size_t{2}, size_t{3}, size_t{7}}) {
    const Split s = split(reasoning, tools, text, std::max<size_t>(step, 1));
    EXPECT_EQ(s.reasoning, want_reasoning) << "step " << step << ": " << text;
    EXPECT_EQ(s.content, want_content) << "step " << step << ": " << text;
    EXPECT_EQ(s.called, !want_calls.empty());
    ASSERT_EQ(s.calls.size(), want_calls.size()) << "step " << step << ": " << text;
    for (size_t i = 0; i < want_calls.size(); ++i) {
      EXPECT_EQ(s.calls[i].name, want_calls[i].name);
      EXPECT_EQ(s.calls[i].arguments, want_calls[i].arguments) << "step " << step;
    }
    // Each call is named once, by its first piece, before any of its arguments; they follow in order.
    size_t named = 0;
    for (const ToolCallDelta& piece : s.pieces) {
      if (piece.name) {
        EXPECT_EQ(piece.index, named++);
      } else {
        EXPECT_EQ(piece.index + 1, named) << "arguments of call " << piece.index << " out of turn";
      }
    }
  }
}

TEST(ReplyParser, ReasoningEndsAtThinkClose) {
  // R1: the prompt opened "<think>\n"; the answer keeps its leading blank line, as vLLM's parser does.
  expect_split(Reasoning::open, false, "Let me think: 2+2.\n</think>\n\nIt is 4.", "Let me think: 2+2.\n", "\n\nIt is 4.");
  // The reply may open the reasoning itself.
  expect_split(Reasoning::if_opened, false, "<think>hmm</think>yes", "hmm", "yes");
  expect_split(Reasoning::open, false, "<think>hmm</think>yes", "hmm", "yes");
  // No "<think>" at the start: no reasoning in this reply (V3.1 without thinking).
  expect_split(Reasoning::if_opened, false, "Just the answer </think> as text", "", "Just the answer </think> as text");
  expect_split(Reasoning::if_opened, false, "<thi", "", "<thi");
  // Reasoning never closed (cut off by max_tokens): all of it is reasoning.
  expect_split(Reasoning::open, false, "still thinking </thi", "still thinking </thi", "");
  // Not parsing: everything is content.
  expect_split(Reasoning::none, false, "<think>a</think>b", "", "<think>a</think>b");
  expect_split(Reasoning::open, false, "多语言 🚀</think>ünï", "多语言 🚀", "ünï");
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// What a template renders for one assistant turn that calls `calls`, cut to the reply itself.
std::string rendered_calls(const std::string& template_source, const json& calls, const std::string& reply_start) {
  const auto chat = tokenizer::ChatTemplate::from_source(template_source, {}, "template");
  const json messages = {{{"role", "user"}, {"content", "Weather?"}},
                         {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", calls}}};
  const std::string text = chat.render(tokenizer::chat_messages_from_json(messages, "test"), false);
  const size_t at = text.find(reply_start);
  EXPECT_NE(at, std::string::npos) << text;
  return text.substr(at + reply_start.size());
}

const json kCalls = json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"unit\": \"°C\"}"}},
  {"type": "function", "function": {"name": "search", "arguments": "{\"q\": \"a\\nb ```\"}"}}])");

const std::vector<ParsedToolCall> kWant = {{"get_weather", R"({"city": "Paris", "unit": "°C"})"},
                                           {"search", R"({"q": "a\nb ```"})"}};

TEST(ReplyParser, ToolCallsInDeepSeekV3sFormat) {
  const std::string v3 = read_file(std::filesystem::path(FATHOM_SHARED_DIR) / "models" / "deepseek-v3-tokenizer" /
                                   "tokenizer_config.json");
  const std::string source = json::parse(v3)["chat_template"].get<std::string>();
  const std::string reply = rendered_calls(source, kCalls, "<｜Assistant｜>");
  ASSERT_TRUE(reply.starts_with(std::string(kToolCallsBegin))) << reply;
  expect_split(Reasoning::none, true, reply, "", "", kWant);
  // Text before the calls is content; without tools asked for, the markers are content too.
  expect_split(Reasoning::none, true, "Checking.\n" + reply, "", "Checking.\n", kWant);
  expect_split(Reasoning::none, false, reply, "", reply);
  // R1: reasoning, then calls.
  expect_split(Reasoning::open, true, "plan</think>" + reply, "plan", "", kWant);
  // Cut off (max_tokens) inside a call's arguments: the call keeps what it got, and a closing
  // fence the model had begun is not part of them.
  const std::string cut = reply.substr(0, reply.rfind(std::string(kToolCallEnd)));
  expect_split(Reasoning::none, true, cut, "", "", kWant);
  expect_split(Reasoning::none, true, cut.substr(0, cut.size() - 2), "", "", kWant);
  const size_t second_arguments = reply.find("{\"q\"");
  ASSERT_NE(second_arguments, std::string::npos);
  expect_split(Reasoning::none, true, reply.substr(0, second_arguments + 8), "", "", {kWant[0], {"search", R"({"q": "a)"}});
  // Stopped by the first call's end marker (parallel_tool_calls false: generation_request.cpp),
  // whose text is not sent: the first call, whole.
  expect_split(Reasoning::none, true, reply.substr(0, reply.find(std::string(kToolCallEnd))), "", "", {kWant[0]});
  // Cut off before the first call's name is known: no call, so the text is content as written.
  const std::string unnamed = reply.substr(0, reply.find("get_weather") + 3);
  expect_split(Reasoning::none, true, unnamed, "", unnamed);
  // Text between and after the calls is not part of them; a call without a name is none.
  const std::string loose = std::string(kToolCallsBegin) + "\n" + std::string(kToolCallBegin) + "no name" +
                            std::string(kToolCallEnd) + std::string(kToolCallBegin) + "f" + std::string(kToolSep) +
                            "{}" + std::string(kToolCallEnd) + std::string(kToolCallsEnd) + "bye";
  expect_split(Reasoning::none, true, loose, "", "", {{"f", "{}"}});
}

TEST(ReplyParser, ToolCallsInDeepSeekV31sFormat) {
  const std::string source = read_file(std::filesystem::path(FATHOM_SOURCE_DIR) / "tests" / "tokenizer" / "data" /
                                       "templates" / "deepseek-v3.1.jinja");
  const std::string reply = rendered_calls(source, kCalls, "<｜Assistant｜></think>");
  ASSERT_TRUE(reply.starts_with(std::string(kToolCallsBegin))) << reply;
  expect_split(Reasoning::if_opened, true, reply, "", "", kWant);
  expect_split(Reasoning::if_opened, true, reply.substr(0, reply.find(std::string(kToolCallEnd))), "", "", {kWant[0]});
}

// Fathom's templates for serving tools (configs/chat-templates): the calls of an assistant turn
// they render, and the call format their tool section shows the model (NAME and ARGUMENTS filled
// in), parse back into the calls.
TEST(ReplyParser, ShippedToolTemplatesCallFormatsParseBack) {
  const json tools = json::parse(R"([{"type": "function", "function": {"name": "get_weather"}}])");
  const std::vector<std::pair<std::string, std::string>> templates = {
      {"deepseek-v3-tools.jinja", "<｜Assistant｜>"},
      {"deepseek-r1-tools.jinja", "<｜Assistant｜>"},
      {"deepseek-v3.1-tools.jinja", "<｜Assistant｜></think>"}};
  for (const auto& [file, reply_start] : templates) {
    const std::string source =
        read_file(std::filesystem::path(FATHOM_SOURCE_DIR) / "configs" / "chat-templates" / file);
    const std::string reply = rendered_calls(source, kCalls, reply_start);
    const std::string calls_end = std::string(kToolCallsEnd);
    ASSERT_NE(reply.find(calls_end), std::string::npos) << file << ": " << reply;
    expect_split(Reasoning::none, true, reply, "", "", kWant);

    const auto chat = tokenizer::ChatTemplate::from_source(source, {}, file);
    tokenizer::jinja::Dict variables;
    variables.emplace_back("tools", tokenizer::jinja::Value::from_json(nlohmann::ordered_json::parse(tools.dump())));
    const std::vector<tokenizer::ChatMessage> messages = {tokenizer::text_message("user", "Weather?")};
    const std::string prompt = chat.render(messages, true, variables);
    const size_t begin = prompt.find(std::string(kToolCallsBegin));
    const size_t end = prompt.find(calls_end, begin);
    ASSERT_NE(end, std::string::npos) << file << ": " << prompt;
    std::string example = prompt.substr(begin, end + calls_end.size() - begin);
    example.replace(example.find("NAME"), 4, "get_weather");
    example.replace(example.find("ARGUMENTS"), 9, R"({"city": "Oslo"})");
    expect_split(Reasoning::none, true, example, "", "", {{"get_weather", R"({"city": "Oslo"})"}});
  }
}

TEST(ReplyParser, ResponsesCarryTheParts) {
  ResponseHeader h = new_response_header(Endpoint::chat_completions, "m");
  Choice c;
  c.finish_reason = finish_reason_with_calls("stop", true);
  c.reasoning = "plan";
  c.tool_calls = kWant;
  c.null_content = true;
  const json message = full_response(h, {c}, Usage{})["choices"][0]["message"];
  EXPECT_EQ(message["content"], nullptr);
  EXPECT_EQ(message["reasoning_content"], "plan");
  ASSERT_EQ(message["tool_calls"].size(), 2u);
  EXPECT_TRUE(message["tool_calls"][0]["id"].get<std::string>().starts_with("call_"));
  EXPECT_NE(message["tool_calls"][0]["id"], message["tool_calls"][1]["id"]);
  EXPECT_EQ(message["tool_calls"][1]["type"], "function");
  EXPECT_EQ(message["tool_calls"][1]["function"], (json{{"name", "search"}, {"arguments", kWant[1].arguments}}));
  EXPECT_FALSE(message["tool_calls"][0].contains("index"));
  EXPECT_EQ(full_response(h, {c}, Usage{})["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(finish_reason_with_calls("length", true), "length");
  EXPECT_EQ(finish_reason_with_calls("stop", false), "stop");

  ChunkContent chunk;
  chunk.reasoning = "pl";
  chunk.tool_calls = {{0, kWant[0].name, kWant[0].arguments}, {1, kWant[1].name, kWant[1].arguments}};
  const json delta = stream_chunk(h, chunk, false)["choices"][0]["delta"];
  EXPECT_EQ(delta["reasoning_content"], "pl");
  EXPECT_FALSE(delta.contains("content"));
  EXPECT_EQ(delta["tool_calls"][1]["index"], 1);
  EXPECT_EQ(delta["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_TRUE(delta["tool_calls"][1]["id"].get<std::string>().starts_with("call_"));

  // A call streamed in pieces: the first names it (with its id), the rest carry only arguments.
  chunk.tool_calls = {{0, std::nullopt, "\"Par"}};
  const json more = stream_chunk(h, chunk, false)["choices"][0]["delta"]["tool_calls"];
  EXPECT_EQ(more, (json::array({{{"index", 0}, {"function", {{"arguments", "\"Par"}}}}})));
}

}  // namespace
}  // namespace fathom::server
