// tool_choice "required" and named functions: the grammar that forces the calls (what it lets
// through and what it refuses, written out by hand from OpenAI's tool definitions), and the
// reader that turns a forced reply back into calls, judged by nlohmann::json's parser: a call's
// streamed arguments put together parse to the value that was written, fed whole or byte by byte.
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/engine/grammar_automaton.h"
#include "server/api_error.h"
#include "server/forced_tool_calls.h"
#include "server/reply_reader.h"

namespace fathom::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

const ordered_json kTools = ordered_json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
    "required": ["city"], "additionalProperties": false}}},
  {"type": "function", "function": {"name": "search", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}, "near": {"$ref": "#/$defs/place"}},
    "required": ["q"], "additionalProperties": false,
    "$defs": {"place": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"],
                        "additionalProperties": false}}}}},
  {"type": "function", "function": {"name": "now"}}
])");

bool accepts(const ForcedToolChoice& choice, const std::string& text) {
  engine::GrammarAutomaton a(forced_calls_grammar(choice, kTools));
  const auto state = a.feed(a.start(), text);
  return state != engine::GrammarAutomaton::kDead && a.accepting(state);
}

TEST(ForcedToolCalls, ANamedFunctionsReplyIsItsArguments) {
  const ForcedToolChoice weather{"get_weather", true};
  EXPECT_TRUE(accepts(weather, R"({"city":"Paris"})"));
  EXPECT_TRUE(accepts(weather, R"({"city": "Paris", "unit": "C"})"));
  EXPECT_FALSE(accepts(weather, R"({"unit":"C"})")) << "city is required";
  EXPECT_FALSE(accepts(weather, R"({"city":"Paris","unit":"K"})"));
  EXPECT_FALSE(accepts(weather, R"({"city":"Paris","country":"FR"})"));
  EXPECT_FALSE(accepts(weather, R"([{"name":"get_weather","arguments":{"city":"Paris"}}])"));
  // A function without parameters takes none.
  const ForcedToolChoice now{"now", true};
  EXPECT_TRUE(accepts(now, "{}"));
  EXPECT_FALSE(accepts(now, R"({"a":1})"));
  // A reference in the parameters is to their own root.
  EXPECT_TRUE(accepts({"search", true}, R"({"q":"cafe","near":{"lat":48.8}})"));
  EXPECT_FALSE(accepts({"search", true}, R"({"q":"cafe","near":{"lon":2.3}})"));
}

TEST(ForcedToolCalls, RequiredIsAListOfOneOrMoreCallsOfTheTools) {
  const ForcedToolChoice required{"", true};
  EXPECT_TRUE(accepts(required, R"([{"name":"get_weather","arguments":{"city":"Paris"}}])"));
  EXPECT_TRUE(accepts(required, R"([{"name": "now", "arguments": {}}, {"name": "search", "arguments": )"
                                R"({"q": "x", "near": {"lat": -1.5}}}])"));
  EXPECT_FALSE(accepts(required, "[]")) << "at least one call";
  EXPECT_FALSE(accepts(required, R"([{"name":"get_time","arguments":{}}])")) << "not a tool";
  EXPECT_FALSE(accepts(required, R"([{"name":"now","arguments":{"city":"Paris"}}])")) << "another tool's arguments";
  EXPECT_FALSE(accepts(required, R"([{"name":"search","arguments":{"q":"x","near":{"lon":1}}}])"))
      << "the reference moved with the tool's schema";
  EXPECT_FALSE(accepts(required, R"([{"name":"now"}])")) << "arguments are required";
  EXPECT_FALSE(accepts(required, R"([{"name":"now","arguments":{},"id":"1"}])"));
  EXPECT_FALSE(accepts(required, R"({"name":"now","arguments":{}})")) << "a list, even of one";

  const ForcedToolChoice one{"", false};  // parallel_tool_calls: false
  EXPECT_TRUE(accepts(one, R"([{"name":"now","arguments":{}}])"));
  EXPECT_FALSE(accepts(one, R"([{"name":"now","arguments":{}},{"name":"now","arguments":{}}])"));
}

TEST(ForcedToolCalls, ASchemaThatCannotBeGeneratedForNamesTheTool) {
  ordered_json tools = kTools;
  tools[1]["function"]["parameters"]["properties"]["q"] = {{"type", "integer"}, {"multipleOf", 0.5}};
  for (const ForcedToolChoice& choice : {ForcedToolChoice{"search", true}, ForcedToolChoice{"", true}}) {
    try {
      forced_calls_grammar(choice, tools);
      ADD_FAILURE() << "no error";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400);
      EXPECT_EQ(e.param(), "tools");
      const std::string message = e.what();
      EXPECT_NE(message.find("tools[1].function.parameters"), std::string::npos) << message;
      EXPECT_NE(message.find("#/properties/q"), std::string::npos) << message;
    }
  }
}

// What a reply's calls come to, fed in pieces of `piece` bytes (0: whole).
struct Read {
  std::vector<ToolCallDelta> deltas;
  std::vector<ParsedToolCall> calls;
  bool called = false;
};
Read read(ForcedToolChoice choice, const std::string& text, size_t piece) {
  ForcedCallReader reader(std::move(choice));
  Read r;
  for (size_t at = 0; at < text.size(); at += piece == 0 ? text.size() : piece) {
    for (ToolCallDelta& d : reader.feed(std::string_view(text).substr(at, piece == 0 ? text.size() : piece))) {
      r.deltas.push_back(std::move(d));
    }
  }
  r.calls = join_call_deltas(r.deltas);
  r.called = reader.called();
  return r;
}

// Every call is named by its first piece, before any of its arguments, and only once.
void expect_named_first(const std::vector<ToolCallDelta>& deltas) {
  std::vector<bool> named;
  for (const ToolCallDelta& d : deltas) {
    if (d.index >= named.size()) named.resize(d.index + 1, false);
    if (d.name) {
      EXPECT_FALSE(named[d.index]) << "call " << d.index << " named twice";
      named[d.index] = true;
    } else {
      EXPECT_TRUE(named[d.index]) << "call " << d.index << " has arguments before its name";
    }
  }
}

TEST(ForcedCallReader, RequiredListsComeBackAsTheCallsWritten) {
  const ordered_json written = ordered_json::parse(R"([
    {"name": "get_weather", "arguments": {"city": "Par\"is, \\ {not [a brace}", "unit": "C"}},
    {"name": "se\u0061rch", "arguments": {"q": "x", "near": {"lat": -1.5e3}}},
    {"name": "now", "arguments": {}},
    {"name": "now", "arguments": [1, [2, {"a": null}], "]"]},
    {"name": "now", "arguments": "just text"},
    {"name": "now", "arguments": 42}
  ])");
  const std::vector<std::string> texts = {written.dump(), written.dump(2), written.dump(1, '\t'),
                                          "[ " + written[0].dump() + " ,\n " + written[1].dump(4) + "\n]"};
  for (const std::string& text : texts) {
    const size_t expected_calls = text == texts[3] ? 2 : written.size();
    for (size_t piece : {0, 1, 2, 7}) {
      const Read r = read({"", true}, text, piece);
      ASSERT_EQ(r.calls.size(), expected_calls) << text;
      EXPECT_TRUE(r.called);
      expect_named_first(r.deltas);
      for (size_t i = 0; i < r.calls.size(); ++i) {
        EXPECT_EQ(r.calls[i].name, written[i]["name"].get<std::string>());
        EXPECT_EQ(ordered_json::parse(r.calls[i].arguments), written[i]["arguments"]) << r.calls[i].arguments;
        EXPECT_NE(text.find(r.calls[i].arguments), std::string::npos) << "arguments as the model wrote them";
        EXPECT_FALSE(std::isspace(static_cast<unsigned char>(r.calls[i].arguments.back())))
            << "whitespace after the value is not part of it";
        EXPECT_FALSE(std::isspace(static_cast<unsigned char>(r.calls[i].arguments.front())));
      }
    }
  }
}

TEST(ForcedCallReader, ANamedFunctionsArgumentsStreamAsWritten) {
  const std::string text = " \n{\"city\": \"Lyon\",\n  \"unit\": \"F\"}\n  ";
  for (size_t piece : {0, 1, 3}) {
    const Read r = read({"get_weather", true}, text, piece);
    ASSERT_EQ(r.calls.size(), 1u);
    EXPECT_EQ(r.calls[0].name, "get_weather");
    EXPECT_EQ(r.calls[0].arguments, "{\"city\": \"Lyon\",\n  \"unit\": \"F\"}");
    expect_named_first(r.deltas);
    if (piece == 1) {
      EXPECT_GT(r.deltas.size(), 10u) << "arguments stream as they come";
    }
  }
  EXPECT_FALSE(read({"get_weather", true}, "", 0).called);
}

TEST(ForcedCallReader, AReplyCutOffKeepsWhatWasWritten) {
  const std::string text = R"([{"name": "search", "arguments": {"q": "long qu)";
  const Read cut = read({"", true}, text, 1);
  ASSERT_EQ(cut.calls.size(), 1u);
  EXPECT_EQ(cut.calls[0].name, "search");
  EXPECT_EQ(cut.calls[0].arguments, R"({"q": "long qu)");
  // Cut off before the first call's name: no call; the reader keeps the text.
  ForcedCallReader early(ForcedToolChoice{"", true});
  early.feed(R"([{"name": "sea)");
  EXPECT_FALSE(early.called());
  EXPECT_EQ(early.text(), R"([{"name": "sea)");
}

}  // namespace
}  // namespace fathom::server

namespace fathom::server {
namespace {

// A thinking model's forced calls: the reasoning comes first (the grammar starts after
// "</think>"), then the calls' JSON.
TEST(ReplyReader, ForcedCallsFollowTheReasoning) {
  const std::string reply = "I should look it up.</think>\n\n{\"city\": \"Oslo\"}";
  for (size_t piece : {reply.size(), size_t{1}, size_t{4}}) {
    ReplyReader reader(ReplyParser(Reasoning::open, false), ForcedToolChoice{"get_weather", true});
    std::string reasoning, content;
    std::vector<ToolCallDelta> pieces;
    const auto add = [&](const ReplyParts& parts) {
      reasoning += parts.reasoning;
      content += parts.content;
      pieces.insert(pieces.end(), parts.calls.begin(), parts.calls.end());
    };
    for (size_t at = 0; at < reply.size(); at += piece) add(reader.feed(std::string_view(reply).substr(at, piece)));
    const ReplyParser::Final rest = reader.finish();
    add(rest.rest);
    EXPECT_TRUE(rest.called);
    EXPECT_EQ(reasoning, "I should look it up.");
    EXPECT_EQ(content, "");
    const std::vector<ParsedToolCall> calls = join_call_deltas(pieces);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].name, "get_weather");
    EXPECT_EQ(calls[0].arguments, R"({"city": "Oslo"})");
  }
  // Cut off in the reasoning: no call, nothing for content.
  ReplyReader thinking(ReplyParser(Reasoning::open, false), ForcedToolChoice{"", true});
  EXPECT_EQ(thinking.feed("still thinking").reasoning, "still thinking");
  const ReplyParser::Final rest = thinking.finish();
  EXPECT_FALSE(rest.called);
  EXPECT_EQ(rest.rest.content, "");
  // Without a parser the whole reply is the calls' JSON.
  ReplyReader plain(std::nullopt, ForcedToolChoice{"f", true});
  EXPECT_EQ(join_call_deltas(plain.feed("{}").calls)[0].arguments, "{}");
}

}  // namespace
}  // namespace fathom::server
