// Strict tools with tool_choice "auto": the call format read off real chat templates (DeepSeek's
// own and the ones Fathom ships), the grammar of what may follow <｜tool▁calls▁begin｜> (call
// texts written out by hand in each format: what it lets through and what it refuses), the reply
// parser reading back what it lets through, and how a request gets that grammar.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "fathom/engine/grammar_automaton.h"
#include "fathom/engine/json_schema_grammar.h"
#include "server/api_error.h"
#include "server/generation_request.h"
#include "server/openai_request.h"
#include "server/reply_parser.h"
#include "server/strict_tool_calls.h"

namespace fathom::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

const ordered_json kTools = ordered_json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "strict": true, "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
    "required": ["city", "unit"], "additionalProperties": false}}},
  {"type": "function", "function": {"name": "search", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}
])");

const std::filesystem::path kShared = FATHOM_SHARED_DIR;
const std::filesystem::path kSource = FATHOM_SOURCE_DIR;

tokenizer::Tokenizer tokenizer_with(const std::filesystem::path& chat_template) {
  tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(kShared / "models" / "deepseek-v3-tokenizer");
  tok.use_chat_template_file(chat_template);
  return tok;
}

ChatTemplateInputs with_tools() {
  ChatTemplateInputs inputs;
  inputs.has_tools = true;
  inputs.variables.emplace_back("tools", tokenizer::jinja::Value::from_json(kTools));
  return inputs;
}

std::string v3_call(const std::string& name, const std::string& arguments) {
  return std::string(kToolCallBegin) + "function" + std::string(kToolSep) + name + "\n```json\n" + arguments + "\n```" +
         std::string(kToolCallEnd);
}

std::string v31_call(const std::string& name, const std::string& arguments) {
  return std::string(kToolCallBegin) + name + std::string(kToolSep) + arguments + std::string(kToolCallEnd);
}

bool accepts(const std::shared_ptr<const engine::Grammar>& grammar, const std::string& text) {
  engine::GrammarAutomaton a(grammar);
  const auto state = a.feed(a.start(), text);
  return state != engine::GrammarAutomaton::kDead && a.accepting(state);
}

TEST(TemplateCallFormat, ReadOffTheTemplates) {
  const auto v3 = template_call_format(tokenizer_with(kSource / "configs" / "chat-templates" / "deepseek-v3-tools.jinja"), with_tools());
  ASSERT_TRUE(v3);
  EXPECT_EQ(v3->name, CallFormat::Name::v3);
  EXPECT_EQ(v3->between_calls, "\n");
  const auto r1 = template_call_format(tokenizer_with(kSource / "configs" / "chat-templates" / "deepseek-r1-tools.jinja"), with_tools());
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->name, CallFormat::Name::v3);
  const auto v31 =
      template_call_format(tokenizer_with(kSource / "configs" / "chat-templates" / "deepseek-v3.1-tools.jinja"), with_tools());
  ASSERT_TRUE(v31);
  EXPECT_EQ(v31->name, CallFormat::Name::v31);
  EXPECT_EQ(v31->between_calls, "");
  // DeepSeek's own templates render calls too (they only leave the tool definitions out).
  const auto own = template_call_format(tokenizer_with(kSource / "tests" / "tokenizer" / "data" / "templates" / "deepseek-v3.jinja"),
                                        ChatTemplateInputs{});
  ASSERT_TRUE(own);
  EXPECT_EQ(own->name, CallFormat::Name::v3);
  // A template that does not render calls does not say how the model writes them.
  EXPECT_FALSE(template_call_format(
      tokenizer_with(kSource / "tests" / "tokenizer" / "data" / "templates" / "deepseek-v2-chat.jinja"), ChatTemplateInputs{}));
}

TEST(StrictCallsGrammar, HoldsStrictToolsToTheirSchemasInTheV3Format) {
  const auto g = strict_calls_grammar(CallFormat{CallFormat::Name::v3, "\n"}, kTools, /*parallel=*/true);
  const std::string end(kToolCallsEnd);
  const std::string weather = v3_call("get_weather", R"({"city": "Oslo", "unit": "C"})");
  EXPECT_TRUE(accepts(g, weather + end));
  EXPECT_TRUE(accepts(g, weather + "\n" + v3_call("search", R"({"anything": [1, 2]})") + end));
  EXPECT_TRUE(accepts(g, v3_call("search", "{}") + end)) << "a tool not marked strict takes any object";
  EXPECT_FALSE(accepts(g, v3_call("get_weather", R"({"city": "Oslo"})") + end)) << "unit is required";
  EXPECT_FALSE(accepts(g, v3_call("get_weather", R"({"city": "Oslo", "unit": "K"})") + end));
  EXPECT_FALSE(accepts(g, v3_call("get_weather", R"({"city": "Oslo", "unit": "C", "x": 1})") + end));
  EXPECT_FALSE(accepts(g, v3_call("search", "[1]") + end)) << "arguments are an object";
  EXPECT_FALSE(accepts(g, v3_call("get_time", "{}") + end)) << "not one of the tools";
  EXPECT_FALSE(accepts(g, weather)) << "the calls end with their marker";
  EXPECT_FALSE(accepts(g, v31_call("get_weather", R"({"city": "Oslo", "unit": "C"})") + end)) << "the other format";
  EXPECT_FALSE(accepts(g, weather + end + "more")) << "nothing after the calls";

  // "strict" other than true (a string, say) is not strict, and not an error.
  ordered_json odd = kTools;
  odd[1]["function"]["strict"] = "yes";
  EXPECT_TRUE(accepts(strict_calls_grammar(CallFormat{CallFormat::Name::v3, "\n"}, odd, true),
                      v3_call("search", R"({"x": 1})") + end));

  const auto one = strict_calls_grammar(CallFormat{CallFormat::Name::v3, "\n"}, kTools, /*parallel=*/false);
  EXPECT_TRUE(accepts(one, weather + end));
  EXPECT_FALSE(accepts(one, weather + "\n" + weather + end)) << "parallel_tool_calls false: one call";
}

TEST(StrictCallsGrammar, V31FormatAndTheReplyParserReadsWhatItAllows) {
  const auto g = strict_calls_grammar(CallFormat{CallFormat::Name::v31, ""}, kTools, /*parallel=*/true);
  const std::string calls = v31_call("get_weather", R"({"city":"Bergen","unit":"F"})") + v31_call("search", R"({"q":"x"})") +
                            std::string(kToolCallsEnd);
  ASSERT_TRUE(accepts(g, calls));
  EXPECT_FALSE(accepts(g, v31_call("get_weather", R"({"city":"Bergen"})") + std::string(kToolCallsEnd)));

  // What the grammar lets through after the marker, the parser reads back as the calls.
  for (const auto& [format, text] :
       {std::pair{CallFormat{CallFormat::Name::v31, ""}, calls},
        std::pair{CallFormat{CallFormat::Name::v3, "\n"},
                  v3_call("get_weather", R"({"city":"Bergen","unit":"F"})") + "\n" + v3_call("search", R"({"q":"x"})") +
                      std::string(kToolCallsEnd)}}) {
    ASSERT_TRUE(accepts(strict_calls_grammar(format, kTools, true), text));
    ReplyParser parser(Reasoning::none, /*tool_calls=*/true);
    ReplyParts parts = parser.feed("Let me check. " + std::string(kToolCallsBegin) + text);
    const ReplyParser::Final rest = parser.finish();
    ASSERT_TRUE(rest.called);
    std::vector<ToolCallDelta> pieces = parts.calls;
    pieces.insert(pieces.end(), rest.rest.calls.begin(), rest.rest.calls.end());
    std::vector<ToolCallDelta> joined;
    for (const ToolCallDelta& p : pieces) append_call_piece(joined, p);
    const auto whole = join_call_deltas(joined);
    ASSERT_EQ(whole.size(), 2u);
    EXPECT_EQ(whole[0].name, "get_weather");
    EXPECT_EQ(json::parse(whole[0].arguments), json::parse(R"({"city":"Bergen","unit":"F"})"));
    EXPECT_EQ(whole[1].name, "search");
    EXPECT_EQ(parts.content + rest.rest.content, "Let me check. ");
  }
}

TEST(StrictCallsGrammar, ContentOrCalls) {
  const auto calls = strict_calls_grammar(CallFormat{CallFormat::Name::v3, "\n"}, kTools, true);
  const auto content = engine::json_schema_grammar(ordered_json::parse(R"({"type": "object", "properties":
      {"answer": {"type": "integer"}}, "required": ["answer"], "additionalProperties": false})"));
  const auto g = content_or_calls_grammar(*content, *calls);
  EXPECT_TRUE(accepts(g, R"({"answer": 4})"));
  EXPECT_TRUE(accepts(g, std::string(kToolCallsBegin) + v3_call("search", R"({"q": "y"})") + std::string(kToolCallsEnd)));
  EXPECT_FALSE(accepts(g, R"({"answer": "four"})"));
  EXPECT_FALSE(accepts(g, v3_call("search", R"({"q": "y"})") + std::string(kToolCallsEnd))) << "calls open with the marker";
}

// How a chat request gets the grammar: strict tools with "auto" wait for the marker; with a
// response_format schema the reply is either; JSON mode, a template without calls and
// min_tokens are 400s; tools not marked strict, "none" and forced calls are as before.
TEST(StrictCallsGrammar, ChatRequestsGetItWhenAToolIsStrict) {
  tokenizer::Tokenizer tok = tokenizer_with(kSource / "configs" / "chat-templates" / "deepseek-v3-tools.jinja");
  const RequestDefaults defaults{engine::SamplingParams{}, 16, 4096};
  auto body = [](json extra) {
    json b = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "Weather?"}}}}, {"tools", json::parse(kTools.dump())}};
    for (auto& [k, v] : extra.items()) b[k] = v;
    return b.dump();
  };
  auto build = [&](json extra, const tokenizer::Tokenizer& t) {
    return build_generation_request(parse_chat_completion_request(body(std::move(extra))), t, defaults);
  };
  const engine::GenerationRequest strict = build(json::object(), tok);
  ASSERT_TRUE(strict.grammar);
  EXPECT_EQ(strict.structured_after, std::string(kToolCallsBegin));
  EXPECT_TRUE(accepts(strict.grammar, v3_call("search", "{}") + std::string(kToolCallsEnd)));

  const engine::GenerationRequest either = build(
      {{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "a"}, {"schema", {{"type", "integer"}}}}}}}}, tok);
  EXPECT_TRUE(either.structured_after.empty());
  EXPECT_TRUE(accepts(either.grammar, "42"));
  EXPECT_TRUE(accepts(either.grammar, std::string(kToolCallsBegin) + v3_call("search", "{}") + std::string(kToolCallsEnd)));

  EXPECT_FALSE(build({{"tool_choice", "none"}}, tok).grammar);
  json lax = json::parse(kTools.dump());
  lax[0]["function"]["strict"] = false;
  EXPECT_FALSE(build({{"tools", lax}}, tok).grammar);
  const engine::GenerationRequest forced = build({{"tool_choice", "required"}}, tok);
  EXPECT_TRUE(forced.structured_after.empty()) << "forced calls keep their own grammar";

  auto status_of = [&](json extra, const tokenizer::Tokenizer& t) {
    try {
      build(std::move(extra), t);
    } catch (const ApiError& e) {
      return e.param();
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(status_of({{"response_format", {{"type", "json_object"}}}}, tok), "tools");
  EXPECT_EQ(status_of({{"min_tokens", 2}}, tok), "min_tokens");
  const tokenizer::Tokenizer no_calls = tokenizer_with(kSource / "tests" / "tokenizer" / "data" / "templates" / "tools.jinja");
  EXPECT_EQ(status_of(json::object(), no_calls), "tools");
}

}  // namespace
}  // namespace fathom::server
