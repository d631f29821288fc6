// The server's protocol layer without a network or a model: request parsing and validation,
// OpenAI error bodies, response and chunk shapes, SSE framing, API-key comparison, and the
// mapping to engine requests (with DeepSeek-V3's real tokenizer from ../shared).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fathom/engine/grammar_automaton.h"
#include "server/api_error.h"
#include "server/generation_request.h"
#include "server/http_server.h"
#include "server/latency_histogram.h"
#include "server/logprobs_json.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/responses_api.h"
#include "server/served_model.h"
#include "server/sse.h"

namespace fathom::server {
namespace {

using nlohmann::json;

// The ApiError a parse throws, for checking status, param and code.
template <typename Parse>
ApiError error_of(Parse parse, const std::string& body) {
  try {
    parse(body);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for: " << body;
  return ApiError(0, "", "");
}

ApiError chat_error(const json& body) { return error_of(parse_chat_completion_request, body.dump()); }
ApiError completion_error(const json& body) { return error_of(parse_completion_request, body.dump()); }

json chat_body(json extra = json::object()) {
  json body = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  body.update(extra);
  return body;
}

json completion_body(json extra = json::object()) {
  json body = {{"model", "m"}, {"prompt", "hello"}};
  body.update(extra);
  return body;
}

TEST(ParseChatRequest, ReadsEveryField) {
  const CompletionRequest r = parse_chat_completion_request(
      chat_body({{"max_tokens", 7}, {"temperature", 0}, {"top_p", 0.5}, {"seed", 42}, {"stop", "END"},
                 {"stream", true}, {"stream_options", {{"include_usage", true}}}, {"presence_penalty", 1.5},
                 {"frequency_penalty", -1}, {"top_k", 5}, {"n", 2}, {"user", "u"}, {"some_future_field", {1, 2}}})
          .dump());
  EXPECT_EQ(r.endpoint, Endpoint::chat_completions);
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].role, "user");
  EXPECT_EQ(r.messages[0].content, "hi");
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.sampling.temperature, 0.0);
  EXPECT_EQ(r.sampling.top_p, 0.5);
  EXPECT_EQ(r.sampling.seed, 42u);
  EXPECT_EQ(r.sampling.presence_penalty, 1.5);
  EXPECT_EQ(r.sampling.frequency_penalty, -1.0);
  EXPECT_EQ(r.sampling.top_k, 5);
  EXPECT_EQ(r.stop, std::vector<std::string>{"END"});
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(ParseChatRequest, AbsentAndNullFieldsAreNotGiven) {
  const CompletionRequest r =
      parse_chat_completion_request(chat_body({{"temperature", nullptr}, {"stop", nullptr}, {"n", nullptr}}).dump());
  EXPECT_FALSE(r.max_tokens);
  EXPECT_FALSE(r.sampling.temperature);
  EXPECT_FALSE(r.sampling.seed);
  EXPECT_TRUE(r.stop.empty());
  EXPECT_FALSE(r.stream);
}

TEST(ParseChatRequest, MaxCompletionTokensWinsOverMaxTokens) {
  EXPECT_EQ(parse_chat_completion_request(chat_body({{"max_tokens", 9}, {"max_completion_tokens", 3}}).dump()).max_tokens, 3);
}

TEST(ParseChatRequest, MalformedJsonIs400) {
  for (const std::string body : {"", "{", "{\"model\": }", "nul", "{\"model\":\"m\",}"}) {
    const ApiError e = error_of(parse_chat_completion_request, body);
    EXPECT_EQ(e.status(), 400) << body;
    EXPECT_EQ(e.type(), "invalid_request_error");
  }
  EXPECT_EQ(error_of(parse_chat_completion_request, "[1, 2]").status(), 400);
  EXPECT_EQ(error_of(parse_chat_completion_request, "\"text\"").status(), 400);
}

TEST(ParseChatRequest, WrongTypesNameTheField) {
  const std::vector<std::pair<json, std::string>> cases = {
      {chat_body({{"temperature", "hot"}}), "temperature"},
      {chat_body({{"temperature", 2.5}}), "temperature"},
      {chat_body({{"top_p", -0.1}}), "top_p"},
      {chat_body({{"max_tokens", 0}}), "max_tokens"},
      {chat_body({{"max_tokens", 1.5}}), "max_tokens"},
      {chat_body({{"max_tokens", "10"}}), "max_tokens"},
      {chat_body({{"stream", "yes"}}), "stream"},
      {chat_body({{"seed", 1.5}}), "seed"},
      {chat_body({{"stop", 5}}), "stop"},
      {chat_body({{"stop", {"a", "b", "c", "d", "e"}}}), "stop"},
      {chat_body({{"stop", {"a", 1}}}), "stop"},
      {chat_body({{"stop", ""}}), "stop"},
      {chat_body({{"presence_penalty", 3}}), "presence_penalty"},
      {chat_body({{"stream_options", true}}), "stream_options"},
      {chat_body({{"model", 5}}), "model"},
      {json{{"messages", chat_body()["messages"]}}, "model"},
      {json{{"model", "m"}}, "messages"},
      {chat_body({{"messages", json::array()}}), "messages"},
      {chat_body({{"messages", "hi"}}), "messages"},
      {chat_body({{"messages", {{{"role", "user"}, {"content", 5}}}}}), "messages"},
      {chat_body({{"messages", json::array({"hi"})}}), "messages"},
  };
  for (const auto& [body, param] : cases) {
    const ApiError e = chat_error(body);
    EXPECT_EQ(e.status(), 400) << body.dump();
    EXPECT_EQ(e.param(), param) << body.dump() << ": " << e.what();
  }
}

TEST(ParseChatRequest, RefusesWhatFathomDoesNotDo) {
  for (const json& extra : {json{{"n", 0}}, json{{"n", 129}}, json{{"tool_choice", "required"}},
                            json{{"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}},
                            json{{"tools", "f"}}, json{{"tools", {{{"type", "function"}, {"function", json::object()}}}}},
                            json{{"tools", {{{"type", "retrieval"}, {"function", {{"name", "f"}}}}}}},
                            json{{"functions", {{{"name", "f"}}}}}, json{{"chat_template_kwargs", "x"}},
                            json{{"chat_template_kwargs", {{"messages", json::array()}}}},
                            json{{"response_format", {{"type", "json_schema"}, {"json_schema", json::object()}}}},
                            json{{"response_format", {{"type", "json_schema"},
                                                      {"json_schema", {{"schema", {{"type", "string"}, {"not", {{"const", "a"}}}}}}}}}}}) {
    const ApiError e = chat_error(chat_body(extra));
    EXPECT_EQ(e.status(), 400) << extra.dump();
    EXPECT_EQ(e.param(), extra.begin().key());
  }
  // Harmless values of the same fields pass.
  EXPECT_NO_THROW(parse_chat_completion_request(
      chat_body({{"n", 128}, {"logprobs", false}, {"tools", json::array()}, {"response_format", {{"type", "text"}}},
                 {"logit_bias", json::object()}})
          .dump()));
}

TEST(ParseChatRequest, LogprobsSwitchAndTopCount) {
  EXPECT_FALSE(parse_chat_completion_request(chat_body().dump()).logprobs);
  EXPECT_FALSE(parse_chat_completion_request(chat_body({{"logprobs", false}}).dump()).logprobs);
  EXPECT_EQ(parse_chat_completion_request(chat_body({{"logprobs", true}}).dump()).logprobs, 0);
  EXPECT_EQ(parse_chat_completion_request(chat_body({{"logprobs", true}, {"top_logprobs", 20}}).dump()).logprobs, 20);
  for (const auto& [extra, param] : std::vector<std::pair<json, std::string>>{
           {{{"top_logprobs", 2}}, "top_logprobs"},  // OpenAI too: top_logprobs needs logprobs
           {{{"logprobs", false}, {"top_logprobs", 2}}, "top_logprobs"},
           {{{"logprobs", true}, {"top_logprobs", 21}}, "top_logprobs"},
           {{{"logprobs", true}, {"top_logprobs", -1}}, "top_logprobs"},
           {{{"logprobs", "yes"}}, "logprobs"},
           {{{"logprobs", 3}}, "logprobs"}}) {
    const ApiError e = chat_error(chat_body(extra));
    EXPECT_EQ(e.status(), 400) << extra.dump();
    EXPECT_EQ(e.param(), param) << extra.dump() << ": " << e.what();
  }
}

TEST(ParseCompletionRequest, EchoAllowsNoNewTokens) {
  const CompletionRequest r = parse_completion_request(completion_body({{"echo", true}, {"max_tokens", 0}}).dump());
  EXPECT_TRUE(r.echo);
  EXPECT_EQ(r.max_tokens, 0);
  EXPECT_EQ(completion_error(completion_body({{"max_tokens", 0}})).param(), "max_tokens");
  EXPECT_EQ(chat_error(chat_body({{"max_tokens", 0}})).param(), "max_tokens");
}

TEST(ParseCompletionRequest, LogprobsIsTheTopCount) {
  EXPECT_FALSE(parse_completion_request(completion_body().dump()).logprobs);
  EXPECT_EQ(parse_completion_request(completion_body({{"logprobs", 0}}).dump()).logprobs, 0);
  EXPECT_EQ(parse_completion_request(completion_body({{"logprobs", 5}}).dump()).logprobs, 5);
  for (const json& value : {json(21), json(-1), json(true), json("2")}) {
    const ApiError e = completion_error(completion_body({{"logprobs", value}}));
    EXPECT_EQ(e.status(), 400) << value.dump();
    EXPECT_EQ(e.param(), "logprobs") << value.dump();
  }
}

TEST(ParseChatRequest, LogitBiasMinTokensAndStopTokenIds) {
  const CompletionRequest r = parse_chat_completion_request(
      chat_body({{"logit_bias", {{"5", 10}, {"0", -100}, {"128000", 0.5}}}, {"min_tokens", 3}, {"stop_token_ids", {7, 9}}})
          .dump());
  std::vector<std::pair<int32_t, float>> bias = r.sampling.logit_bias;
  std::sort(bias.begin(), bias.end());
  EXPECT_EQ(bias, (std::vector<std::pair<int32_t, float>>{{0, -100.0f}, {5, 10.0f}, {128000, 0.5f}}));
  EXPECT_EQ(r.min_tokens, 3);
  EXPECT_EQ(r.stop_token_ids, (std::vector<int32_t>{7, 9}));
  for (const auto& [extra, param] : std::vector<std::pair<json, std::string>>{
           {{{"logit_bias", {{"x", 1}}}}, "logit_bias"},
           {{{"logit_bias", {{"-1", 1}}}}, "logit_bias"},
           {{{"logit_bias", {{"99999999999", 1}}}}, "logit_bias"},
           {{{"logit_bias", {{"5", 101}}}}, "logit_bias"},
           {{{"logit_bias", {{"5", "1"}}}}, "logit_bias"},
           {{{"logit_bias", {1, 2}}}, "logit_bias"},
           {{{"min_tokens", -1}}, "min_tokens"},
           {{{"stop_token_ids", {1, -2}}}, "stop_token_ids"},
           {{{"stop_token_ids", 5}}, "stop_token_ids"}}) {
    const ApiError e = chat_error(chat_body(extra));
    EXPECT_EQ(e.status(), 400) << extra.dump();
    EXPECT_EQ(e.param(), param) << extra.dump() << ": " << e.what();
  }
}

TEST(ParseChatRequest, ResponseFormatJsonObjectIsJsonMode) {
  EXPECT_FALSE(parse_chat_completion_request(chat_body().dump()).json_object);
  EXPECT_FALSE(parse_chat_completion_request(chat_body({{"response_format", {{"type", "text"}}}}).dump()).json_object);
  EXPECT_TRUE(parse_chat_completion_request(chat_body({{"response_format", {{"type", "json_object"}}}}).dump()).json_object);
  EXPECT_TRUE(parse_completion_request(completion_body({{"response_format", {{"type", "json_object"}}}}).dump()).json_object);
  for (const json& format : {json("json_object"), json::object(), json{{"type", 1}}, json{{"type", "json_schema"}}}) {
    EXPECT_EQ(chat_error(chat_body({{"response_format", format}})).param(), "response_format") << format.dump();
  }
}

// json_schema (and vLLM's guided_json): the schema compiled to a grammar, with the members in
// the order the body lists them; a schema Fathom cannot generate for is a 400 naming the place.
TEST(ParseChatRequest, ResponseFormatJsonSchemaCompilesTheSchemaInTheBodysOrder) {
  const std::string body = R"({"model": "m", "messages": [{"role": "user", "content": "x"}],
      "response_format": {"type": "json_schema", "json_schema": {"name": "p", "strict": true, "schema":
        {"type": "object", "properties": {"zeta": {"type": "integer"}, "alpha": {"type": "integer"}},
         "required": ["zeta", "alpha"], "additionalProperties": false}}}})";
  const CompletionRequest r = parse_chat_completion_request(body);
  ASSERT_TRUE(r.grammar);
  EXPECT_FALSE(r.json_object);
  engine::GrammarAutomaton a(r.grammar);
  EXPECT_TRUE(a.accepting(a.feed(a.start(), R"({"zeta": 1, "alpha": 2})")));
  EXPECT_EQ(a.feed(a.start(), R"({"alpha")"), engine::GrammarAutomaton::kDead) << "alphabetical, not the body's order";

  const CompletionRequest guided = parse_completion_request(
      completion_body({{"guided_json", {{"type", "array"}, {"items", {{"type", "boolean"}}}}}}).dump());
  ASSERT_TRUE(guided.grammar);
  engine::GrammarAutomaton g(guided.grammar);
  EXPECT_TRUE(g.accepting(g.feed(g.start(), "[true,false]")));

  const ApiError e = chat_error(chat_body({{"response_format", {{"type", "json_schema"},
      {"json_schema", {{"name", "p"}, {"schema", {{"type", "object"}, {"properties", {{"age", {{"type", "integer"}, {"multipleOf", 2.5}}}}}}}}}}}}));
  EXPECT_EQ(e.param(), "response_format");
  EXPECT_NE(std::string(e.what()).find("#/properties/age/multipleOf"), std::string::npos) << e.what();
  for (const json& extra : {json{{"guided_json", 5}},
                            json{{"guided_json", json::object()}, {"response_format", {{"type", "json_object"}}}},
                            json{{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", 3}, {"schema", json::object()}}}}}}}) {
    EXPECT_EQ(chat_error(chat_body(extra)).status(), 400) << extra.dump();
  }
}

TEST(ParseChatRequest, JoinsTextContentParts) {
  const json messages = {{{"role", "user"},
                          {"content", {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}}}};
  EXPECT_EQ(parse_chat_completion_request(chat_body({{"messages", messages}}).dump()).messages[0].content, "a\nb");
  const json image = {{{"role", "user"}, {"content", {{{"type", "image_url"}, {"image_url", {{"url", "x"}}}}}}}};
  EXPECT_EQ(chat_error(chat_body({{"messages", image}})).param(), "messages");
}

TEST(ParseChatRequest, SeedsAndTopKExtensions) {
  EXPECT_EQ(parse_chat_completion_request(chat_body({{"seed", -1}}).dump()).sampling.seed, ~uint64_t{0});
  EXPECT_EQ(parse_chat_completion_request(chat_body({{"top_k", -1}}).dump()).sampling.top_k, 0);
  const CompletionRequest r =
      parse_chat_completion_request(chat_body({{"ignore_eos", true}, {"return_token_ids", true}}).dump());
  EXPECT_TRUE(r.ignore_eos);
  EXPECT_TRUE(r.return_token_ids);
}

TEST(ParseCompletionRequest, PromptForms) {
  auto prompts_of = [](const json& prompt) {
    return parse_completion_request(completion_body({{"prompt", prompt}}).dump()).prompts;
  };
  auto texts = [](const std::vector<CompletionPrompt>& prompts) {
    std::vector<std::string> out;
    for (const CompletionPrompt& p : prompts) out.push_back(p.text.value_or("<ids>"));
    return out;
  };
  EXPECT_EQ(texts(parse_completion_request(completion_body().dump()).prompts), (std::vector<std::string>{"hello"}));
  EXPECT_EQ(texts(prompts_of(json::array({"one"}))), (std::vector<std::string>{"one"}));
  const std::vector<CompletionPrompt> ids = prompts_of({1, 2, 3});
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_FALSE(ids[0].text);
  EXPECT_EQ(ids[0].ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(prompts_of(json::array({json::array({4, 5})}))[0].ids, (std::vector<int32_t>{4, 5}));
  // OpenAI's batch form: several prompts, in order.
  EXPECT_EQ(texts(prompts_of(json::array({"a", "b", ""}))), (std::vector<std::string>{"a", "b", ""}));
  const std::vector<CompletionPrompt> lists = prompts_of(json::array({json::array({1}), json::array({2, 3})}));
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(lists[1].ids, (std::vector<int32_t>{2, 3}));
}

TEST(ParseCompletionRequest, RefusesBadPrompts) {
  for (const json& prompt : {json(nullptr), json(5), json::array(), json::array({-1}), json::array({1.5}),
                             json::array({1, "a"}), json::array({"a", json::array({1})}), json::array({json::array({1}), "a"}),
                             json::array({json::array({1}), json::array()}), json::array({"a", 5}),
                             json::array({json::array({1}), json::array({-2})})}) {
    const ApiError e = completion_error(completion_body({{"prompt", prompt}}));
    EXPECT_EQ(e.status(), 400) << prompt.dump();
    EXPECT_EQ(e.param(), "prompt") << prompt.dump();
  }
  // The error names the prompt at fault.
  EXPECT_NE(std::string(completion_error(completion_body({{"prompt", json::array({"a", 5})}})).what()).find("prompt[1]"),
            std::string::npos);
  // n choices for each prompt: 128 at most in all.
  const json many = json::array({"a", "b", "c"});
  EXPECT_EQ(parse_completion_request(completion_body({{"prompt", many}, {"n", 42}}).dump()).prompts.size(), 3u);
  const ApiError too_many = completion_error(completion_body({{"prompt", many}, {"n", 43}}));
  EXPECT_EQ(too_many.status(), 400);
  EXPECT_NE(std::string(too_many.what()).find("128"), std::string::npos) << too_many.what();
  for (const json& extra : {json{{"max_tokens", 0}}, json{{"best_of", 2}}, json{{"suffix", "x"}}, json{{"n", 0}},
                            json{{"n", 3}, {"best_of", 4}}, json{{"echo", 1}}}) {
    EXPECT_EQ(completion_error(completion_body(extra)).status(), 400) << extra.dump();
  }
  // best_of equal to n asks for nothing more.
  EXPECT_EQ(parse_completion_request(completion_body({{"n", 3}, {"best_of", 3}}).dump()).n, 3);
}

TEST(ApiErrorBody, HasOpenAIShape) {
  const json body = json::parse(bad_request("'n' must be 1", "n").body());
  ASSERT_TRUE(body.contains("error"));
  EXPECT_EQ(body["error"]["message"], "'n' must be 1");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["param"], "n");
  EXPECT_TRUE(body["error"]["code"].is_null());

  const json unnamed = json::parse(ApiError(500, "server_error", "boom").body());
  EXPECT_TRUE(unnamed["error"]["param"].is_null());
  EXPECT_TRUE(unnamed["error"]["code"].is_null());
}

TEST(ApiErrorBody, SurvivesBytesThatAreNotUtf8) {
  EXPECT_NO_THROW(json::parse(bad_request("bad \xff byte").body()));
}

TEST(ApiErrorMapping, LibraryErrorsGetTheirStatus) {
  EXPECT_EQ(api_error_from(invalid_argument("x")).status(), 400);
  const ApiError too_long = api_error_from(out_of_range("x"));
  EXPECT_EQ(too_long.status(), 400);
  EXPECT_EQ(too_long.api_code(), "context_length_exceeded");
  EXPECT_EQ(api_error_from(resource_exhausted("queue full")).status(), 503);
  EXPECT_EQ(api_error_from(internal_error("bug")).status(), 500);
  EXPECT_EQ(api_error_from(bad_request("kept", "p")).param(), "p");  // an ApiError passes through
  EXPECT_EQ(api_error_for_status(413).api_code(), "request_too_large");
  EXPECT_EQ(api_error_for_status(404).status(), 404);
  EXPECT_EQ(api_error_for_status(401).api_code(), "invalid_api_key");
}

TEST(Sse, Framing) {
  EXPECT_EQ(sse_event("{\"a\":1}"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_event("two\nlines"), "data: two\ndata: lines\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
  EXPECT_EQ(sse_comment("waiting"), ": waiting\n\n");
  EXPECT_EQ(sse_comment("a\nb"), ": a b\n\n");
}

Choice plain_choice(std::string text, std::string finish_reason, std::optional<std::vector<int32_t>> token_ids = {},
                    json logprobs = nullptr) {
  Choice c;
  c.text = std::move(text);
  c.finish_reason = std::move(finish_reason);
  c.token_ids = std::move(token_ids);
  c.logprobs = std::move(logprobs);
  return c;
}

TEST(Responses, ChatShapes) {
  const ResponseHeader h = new_response_header(Endpoint::chat_completions, "tiny");
  EXPECT_EQ(h.id.rfind("chatcmpl-", 0), 0u);
  EXPECT_NE(h.id, new_response_header(Endpoint::chat_completions, "tiny").id);

  const json full = full_response(h, {plain_choice("hi", "length")}, Usage{5, 2});
  EXPECT_EQ(full["object"], "chat.completion");
  EXPECT_EQ(full["model"], "tiny");
  EXPECT_EQ(full["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(full["choices"][0]["message"]["content"], "hi");
  EXPECT_EQ(full["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(full["usage"]["total_tokens"], 7);
  EXPECT_FALSE(full["choices"][0].contains("token_ids"));
  EXPECT_EQ(full_response(h, {plain_choice("hi", "stop", std::vector<int32_t>{1, 2})}, Usage{})["choices"][0]["token_ids"],
            json({1, 2}));
  EXPECT_TRUE(full["choices"][0]["logprobs"].is_null());
  const json logprobs = {{"content", json::array()}};
  EXPECT_EQ(full_response(h, {plain_choice("hi", "stop", std::nullopt, logprobs)}, Usage{})["choices"][0]["logprobs"], logprobs);
  // n choices: in order, each with its index.
  const json two = full_response(h, {plain_choice("a", "stop"), plain_choice("b", "length")}, Usage{});
  ASSERT_EQ(two["choices"].size(), 2u);
  EXPECT_EQ(two["choices"][1]["index"], 1);
  EXPECT_EQ(two["choices"][1]["message"]["content"], "b");
  EXPECT_EQ(two["choices"][1]["finish_reason"], "length");

  ChunkContent first;
  first.first = true;
  const json opening = stream_chunk(h, first, /*with_usage_field=*/false);
  EXPECT_EQ(opening["object"], "chat.completion.chunk");
  EXPECT_EQ(opening["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(opening["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(opening.contains("usage"));

  ChunkContent last;
  last.finish_reason = "stop";
  const json closing = stream_chunk(h, last, /*with_usage_field=*/true);
  EXPECT_EQ(closing["choices"][0]["delta"], json::object());
  EXPECT_EQ(closing["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(closing["usage"].is_null());

  const json usage = usage_chunk(h, Usage{3, 4, 2});
  EXPECT_EQ(usage["choices"], json::array());
  EXPECT_EQ(usage["usage"], json({{"prompt_tokens", 3},
                                  {"completion_tokens", 4},
                                  {"total_tokens", 7},
                                  {"prompt_tokens_details", {{"cached_tokens", 2}}}}));
}

TEST(Responses, CompletionShapes) {
  const ResponseHeader h = new_response_header(Endpoint::completions, "tiny");
  EXPECT_EQ(h.id.rfind("cmpl-", 0), 0u);
  const json full = full_response(h, {plain_choice("abc", "stop")}, Usage{1, 3});
  EXPECT_EQ(full["object"], "text_completion");
  EXPECT_EQ(full["choices"][0]["text"], "abc");
  ChunkContent piece;
  piece.text = "x";
  const json chunk = stream_chunk(h, piece, false);
  EXPECT_EQ(chunk["object"], "text_completion");
  EXPECT_EQ(chunk["choices"][0]["text"], "x");
  EXPECT_TRUE(chunk["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(chunk["choices"][0]["index"], 0);
  piece.index = 3;
  EXPECT_EQ(stream_chunk(h, piece, false)["choices"][0]["index"], 3);
  piece.logprobs = {{"tokens", {"x"}}};
  EXPECT_EQ(stream_chunk(h, piece, false)["choices"][0]["logprobs"], piece.logprobs);
  EXPECT_EQ(finish_reason_text(engine::FinishReason::length), "length");
  EXPECT_EQ(finish_reason_text(engine::FinishReason::stop), "stop");
}

TEST(LatencyHistogram, CumulativeBucketsSumAndCount) {
  LatencyHistogram h;
  for (double s : {0.01, 0.02, 3.0, 700.0}) h.observe(s);  // a bound belongs to its own bucket ("le")
  const std::string text = h.exposition("t_seconds", "help");
  EXPECT_NE(text.find("# TYPE t_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("t_seconds_bucket{le=\"0.01\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{le=\"0.025\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{le=\"2.5\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{le=\"5\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{le=\"600\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_sum 703.03\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_count 4\n"), std::string::npos) << text;
}

TEST(Auth, BearerMatches) {
  EXPECT_TRUE(bearer_matches("Bearer secret", "secret"));
  EXPECT_TRUE(bearer_matches("bearer secret", "secret"));
  EXPECT_FALSE(bearer_matches("Bearer secre", "secret"));
  EXPECT_FALSE(bearer_matches("Bearer secrets", "secret"));
  EXPECT_FALSE(bearer_matches("Bearer ", "secret"));
  EXPECT_FALSE(bearer_matches("secret", "secret"));
  EXPECT_FALSE(bearer_matches("Basic secret", "secret"));
  EXPECT_FALSE(bearer_matches("", "secret"));
}

TEST(ServedModelId, DirectoryNameAndAliases) {
  const auto dir = std::filesystem::temp_directory_path() / "fathom-served-model-test" / "tiny-v3";
  const ServedModel m = ServedModel::from_directory(dir.string() + "/");
  EXPECT_EQ(m.id, "tiny-v3");
  EXPECT_TRUE(m.matches("tiny-v3"));
  EXPECT_TRUE(m.matches(dir.string() + "/"));
  EXPECT_TRUE(m.matches(dir.string()));
  EXPECT_FALSE(m.matches("gpt-4o"));
  EXPECT_FALSE(m.matches(""));
}

class BuildGenerationRequest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tok_ = new tokenizer::Tokenizer(
        tokenizer::Tokenizer::load(std::filesystem::path(FATHOM_SHARED_DIR) / "models" / "deepseek-v3-tokenizer"));
  }
  static void TearDownTestSuite() { delete tok_; }
  static tokenizer::Tokenizer* tok_;
  RequestDefaults defaults_{engine::SamplingParams{}, /*max_new_tokens=*/100, /*max_seq_len=*/64};
};
tokenizer::Tokenizer* BuildGenerationRequest::tok_ = nullptr;

TEST_F(BuildGenerationRequest, ChatUsesTheTemplateWithOneBos) {
  const CompletionRequest r = parse_chat_completion_request(chat_body({{"temperature", 0}, {"seed", 7}}).dump());
  const engine::GenerationRequest g = build_generation_request(r, *tok_, defaults_);
  const std::vector<tokenizer::ChatMessage> messages{tokenizer::text_message("user", "hi")};
  const auto expected = tok_->encode(tok_->render_chat(messages, true), false);
  EXPECT_EQ(g.prompt, std::vector<int32_t>(expected.begin(), expected.end()));
  ASSERT_TRUE(tok_->bos_id());
  EXPECT_EQ(g.prompt[0], static_cast<int32_t>(*tok_->bos_id()));
  EXPECT_NE(g.prompt[1], g.prompt[0]);
  EXPECT_EQ(g.sampling.temperature, 0.0);
  EXPECT_EQ(g.sampling.seed, 7u);
  // No max_tokens: the default, shortened to what fits.
  EXPECT_EQ(g.max_new_tokens, 64 - static_cast<int64_t>(g.prompt.size()));
}

const json kWeatherTool = json::parse(R"({"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})");

TEST_F(BuildGenerationRequest, ToolsForATemplateThatNeverReadsThemAre400) {
  // DeepSeek-V3's own template does not present tools: passing them on silently would hide
  // them from the model.
  const CompletionRequest r = parse_chat_completion_request(chat_body({{"tools", {kWeatherTool}}}).dump());
  try {
    build_generation_request(r, *tok_, defaults_);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), "tools");
    EXPECT_NE(std::string(e.what()).find("never reads 'tools'"), std::string::npos) << e.what();
  }
  // tool_choice "none" and an empty list change nothing.
  EXPECT_NO_THROW(build_generation_request(
      parse_chat_completion_request(chat_body({{"tools", json::array()}, {"tool_choice", "none"}}).dump()), *tok_, defaults_));
}

TEST(ParseChatRequest, AToolChoiceThatForcesCallsSetsTheirGrammar) {
  const auto forced = [](const json& extra) {
    return parse_chat_completion_request(chat_body(extra).dump());
  };
  const CompletionRequest named =
      forced({{"tools", {kWeatherTool}}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}}});
  ASSERT_TRUE(named.chat_inputs.forced);
  EXPECT_EQ(named.chat_inputs.forced->function, "get_weather");
  ASSERT_TRUE(named.grammar);
  engine::GrammarAutomaton arguments(named.grammar);
  EXPECT_TRUE(arguments.accepting(arguments.feed(arguments.start(), R"({"city":"Oslo"})")));

  const CompletionRequest required = forced({{"tools", {kWeatherTool}}, {"tool_choice", "required"},
                                             {"parallel_tool_calls", false}});
  ASSERT_TRUE(required.chat_inputs.forced);
  EXPECT_FALSE(required.chat_inputs.forced->parallel);
  ASSERT_TRUE(required.grammar);
  engine::GrammarAutomaton list(required.grammar);
  const std::string call = R"({"name":"get_weather","arguments":{"city":"Oslo"}})";
  EXPECT_TRUE(list.accepting(list.feed(list.start(), "[" + call + "]")));
  EXPECT_EQ(list.feed(list.start(), "[" + call + "," + call + "]"), engine::GrammarAutomaton::kDead);

  EXPECT_FALSE(forced({{"tools", {kWeatherTool}}, {"tool_choice", "auto"}}).chat_inputs.forced);
  EXPECT_FALSE(forced({{"tools", {kWeatherTool}}, {"tool_choice", "auto"}}).grammar);

  // What cannot be forced is 400, naming the field.
  for (const auto& [extra, param] : std::vector<std::pair<json, std::string>>{
           {{{"tools", {kWeatherTool}}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_time"}}}}}},
            "tool_choice"},
           {{{"tools", {kWeatherTool}}, {"tool_choice", {{"type", "function"}, {"name", "get_weather"}}}}, "tool_choice"},
           {{{"tools", {kWeatherTool}}, {"tool_choice", "any"}}, "tool_choice"},
           {{{"tools", {kWeatherTool}}, {"tool_choice", "required"}, {"response_format", {{"type", "json_object"}}}},
            "tool_choice"},
           {{{"tools", {kWeatherTool}}, {"tool_choice", "required"}, {"guided_json", {{"type", "object"}}}}, "tool_choice"},
           {{{"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"not", json::object()}}}}}}}},
             {"tool_choice", "required"}},
            "tools"},
       }) {
    const ApiError e = chat_error(chat_body(extra));
    EXPECT_EQ(e.status(), 400) << extra.dump();
    EXPECT_EQ(e.param(), param) << extra.dump() << ": " << e.what();
  }
}

TEST_F(BuildGenerationRequest, ToolsAndKwargsReachATemplateThatReadsThem) {
  const auto dir = std::filesystem::temp_directory_path() / ("fathom-tools-template-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tools.jinja")
      << "{{ bos_token }}{% for t in tools %}{{ t | tojson }}\n{% endfor %}{% if thinking %}<think>{% endif %}"
         "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}";
  // Copies of a tokenizer share its template, so this one is loaded afresh.
  tokenizer::Tokenizer tok =
      tokenizer::Tokenizer::load(std::filesystem::path(FATHOM_SHARED_DIR) / "models" / "deepseek-v3-tokenizer");
  tok.use_chat_template_file(dir / "tools.jinja");
  // The schema keeps the client's member order (type, properties, required), not sorted order.
  const std::string body = R"({"model": "m", "messages": [{"role": "user", "content": "Paris?"}],
      "tools": [{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
      "chat_template_kwargs": {"thinking": true}})";
  const CompletionRequest r = parse_chat_completion_request(body);
  EXPECT_EQ(render_chat_prompt(tok, r.messages, r.chat_inputs, true),
            "<｜begin▁of▁sentence｜>{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
            "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n"
            "<think>user: Paris?\n");
  const engine::GenerationRequest g = build_generation_request(r, tok, defaults_);
  const auto expected = tok.encode(render_chat_prompt(tok, r.messages, r.chat_inputs, true), false);
  EXPECT_EQ(g.prompt, std::vector<int32_t>(expected.begin(), expected.end()));
  std::filesystem::remove_all(dir);
}

// parallel_tool_calls false with tool_choice "auto": the model's first call's end marker is a stop
// token (the reply parser then closes that call); with calls allowed in parallel, with "none" and
// with forced calls (their grammar limits them), it is not.
TEST_F(BuildGenerationRequest, OneCallAtATimeStopsAtTheFirstCallsEnd) {
  const auto dir = std::filesystem::temp_directory_path() / ("fathom-one-call-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tools.jinja") << "{{ bos_token }}{% if tools %}{% for t in tools %}{{ t.function.name }}\n{% endfor %}{% endif %}"
                                        "{% for m in messages %}{{ m.content }}\n{% endfor %}";
  tokenizer::Tokenizer tok =
      tokenizer::Tokenizer::load(std::filesystem::path(FATHOM_SHARED_DIR) / "models" / "deepseek-v3-tokenizer");
  tok.use_chat_template_file(dir / "tools.jinja");
  const auto call_end = tok.token_to_id(kToolCallEnd);
  ASSERT_TRUE(call_end);
  const auto stops_at_call_end = [&](const json& fields) {
    const CompletionRequest r = parse_chat_completion_request(chat_body(fields).dump());
    const std::vector<int32_t> ids = build_generation_request(r, tok, defaults_).stop_token_ids;
    return std::find(ids.begin(), ids.end(), static_cast<int32_t>(*call_end)) != ids.end();
  };
  EXPECT_TRUE(stops_at_call_end({{"tools", {kWeatherTool}}, {"parallel_tool_calls", false}}));
  EXPECT_TRUE(stops_at_call_end({{"tools", {kWeatherTool}}, {"parallel_tool_calls", false}, {"tool_choice", "auto"},
                                 {"stop_token_ids", {7}}}));
  EXPECT_FALSE(stops_at_call_end({{"tools", {kWeatherTool}}}));
  EXPECT_FALSE(stops_at_call_end({{"tools", {kWeatherTool}}, {"parallel_tool_calls", true}}));
  EXPECT_FALSE(stops_at_call_end({{"tools", {kWeatherTool}}, {"parallel_tool_calls", false}, {"tool_choice", "none"}}));
  EXPECT_FALSE(stops_at_call_end({{"tools", {kWeatherTool}}, {"parallel_tool_calls", false}, {"tool_choice", "required"}}));
  EXPECT_FALSE(stops_at_call_end({{"parallel_tool_calls", false}}));
  std::filesystem::remove_all(dir);
}

// Several prompts: one engine request each, in order, each fitted to the context on its own; an
// explicit max_tokens one of them has no room for is a 400 naming that prompt.
TEST_F(BuildGenerationRequest, SeveralPromptsEachGetTheirOwnRequest) {
  const CompletionRequest r = parse_completion_request(completion_body({{"prompt", json::array({"ab", "abcd"})}}).dump());
  const std::vector<engine::GenerationRequest> prompts = build_generation_requests(r, *tok_, defaults_);
  ASSERT_EQ(prompts.size(), 2u);
  auto alone = [&](const std::string& prompt) {
    return build_generation_request(parse_completion_request(completion_body({{"prompt", prompt}}).dump()), *tok_,
                                    defaults_)
        .prompt;
  };
  EXPECT_EQ(prompts[0].prompt, alone("ab"));
  EXPECT_EQ(prompts[1].prompt, alone("abcd"));
  EXPECT_NE(prompts[0].prompt, prompts[1].prompt);
  EXPECT_EQ(prompts[0].max_new_tokens + static_cast<int64_t>(prompts[0].prompt.size()), defaults_.max_seq_len)
      << "each default budget is shortened to fit its own prompt";
  EXPECT_EQ(prompts[1].max_new_tokens + static_cast<int64_t>(prompts[1].prompt.size()), defaults_.max_seq_len);

  const json ids = json::array({json::array({5}), json(std::vector<int>(static_cast<size_t>(defaults_.max_seq_len), 5))});
  const ApiError e = error_of(
      [&](const std::string&) {
        build_generation_requests(parse_completion_request(completion_body({{"prompt", ids}, {"max_tokens", 1}}).dump()),
                                  *tok_, defaults_);
      },
      "");
  EXPECT_EQ(e.api_code(), "context_length_exceeded");
  EXPECT_EQ(std::string(e.what()).rfind("prompt[1]: ", 0), 0u) << e.what();
  // Chat has one prompt.
  EXPECT_EQ(build_generation_requests(parse_chat_completion_request(chat_body().dump()), *tok_, defaults_).size(), 1u);
}

TEST_F(BuildGenerationRequest, CompletionAddsBosAndPassesTokenIds) {
  const engine::GenerationRequest text = build_generation_request(
      parse_completion_request(completion_body({{"max_tokens", 4}}).dump()), *tok_, defaults_);
  EXPECT_EQ(text.prompt[0], static_cast<int32_t>(*tok_->bos_id()));
  EXPECT_EQ(text.max_new_tokens, 4);
  const engine::GenerationRequest ids = build_generation_request(
      parse_completion_request(completion_body({{"prompt", {5, 6}}, {"stop", {"x", "y"}}}).dump()), *tok_, defaults_);
  EXPECT_EQ(ids.prompt, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(ids.stop_strings, (std::vector<std::string>{"x", "y"}));
}

TEST_F(BuildGenerationRequest, ExplicitMaxTokensThatDoNotFitAre400) {
  const CompletionRequest r = parse_completion_request(completion_body({{"prompt", {1, 2, 3, 4}}, {"max_tokens", 61}}).dump());
  try {
    build_generation_request(r, *tok_, defaults_);
    FAIL() << "no error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.api_code(), "context_length_exceeded");
    EXPECT_EQ(e.param(), "max_tokens");
  }
  EXPECT_NO_THROW(build_generation_request(
      parse_completion_request(completion_body({{"prompt", {1, 2, 3, 4}}, {"max_tokens", 60}}).dump()), *tok_,
      defaults_));
  const CompletionRequest too_long = parse_completion_request(completion_body({{"prompt", json(std::vector<int>(64, 1))}}).dump());
  EXPECT_EQ(error_of([&](const std::string&) { build_generation_request(too_long, *tok_, defaults_); }, "").api_code(),
            "context_length_exceeded");
}

TEST_F(BuildGenerationRequest, PassesSamplingExtensionsOn) {
  const engine::GenerationRequest g = build_generation_request(
      parse_completion_request(
          completion_body({{"max_tokens", 5}, {"min_tokens", 5}, {"stop_token_ids", {3}}, {"logit_bias", {{"4", 2}}}}).dump()),
      *tok_, defaults_);
  EXPECT_EQ(g.min_tokens, 5);
  EXPECT_EQ(g.stop_token_ids, std::vector<int32_t>{3});
  EXPECT_EQ(g.sampling.logit_bias, (std::vector<std::pair<int32_t, float>>{{4, 2.0f}}));
  const CompletionRequest too_many = parse_completion_request(completion_body({{"max_tokens", 5}, {"min_tokens", 6}}).dump());
  EXPECT_EQ(error_of([&](const std::string&) { build_generation_request(too_many, *tok_, defaults_); }, "").param(),
            "min_tokens");
}

TEST_F(BuildGenerationRequest, EchoScoresThePromptWhenItMatters) {
  auto build = [&](const json& extra) {
    return build_generation_request(parse_completion_request(completion_body(extra).dump()), *tok_, defaults_);
  };
  EXPECT_EQ(build({{"echo", true}, {"logprobs", 2}, {"max_tokens", 1}}).prompt_logprobs, 2);
  const engine::GenerationRequest scoring_only = build({{"echo", true}, {"max_tokens", 0}});
  EXPECT_EQ(scoring_only.prompt_logprobs, 0);
  EXPECT_EQ(scoring_only.max_new_tokens, 0);
  EXPECT_FALSE(build({{"echo", true}, {"max_tokens", 3}}).prompt_logprobs) << "echo alone needs no scores";
  EXPECT_FALSE(build({{"logprobs", 2}, {"max_tokens", 3}}).prompt_logprobs);
}

TEST_F(BuildGenerationRequest, PassesLogprobsOn) {
  EXPECT_FALSE(build_generation_request(parse_completion_request(completion_body().dump()), *tok_, defaults_).logprobs);
  EXPECT_EQ(build_generation_request(parse_completion_request(completion_body({{"logprobs", 3}}).dump()), *tok_, defaults_)
                .logprobs,
            3);
}

// The logprobs JSON with DeepSeek-V3's tokenizer, over a text whose emoji the byte-level BPE
// splits into tokens that each hold part of a character.
class LogprobsShapes : public BuildGenerationRequest {
 protected:
  static constexpr const char* kText = "Hi \xF0\x9F\xA6\x99 there, caf\xC3\xA9";  // "Hi 🦙 there, café"
  std::vector<int32_t> ids() const {
    const auto encoded = tok_->encode(kText, false);
    return std::vector<int32_t>(encoded.begin(), encoded.end());
  }
  // Made-up probabilities: the JSON must carry them through, whatever they are.
  static std::vector<LoggedToken> logged(const std::vector<int32_t>& ids) {
    std::vector<LoggedToken> out;
    for (size_t i = 0; i < ids.size(); ++i) {
      const float lp = -0.25f * static_cast<float>(i + 1);
      out.push_back({ids[i], {lp, {{ids[i], lp}, {ids[(i + 1) % ids.size()], lp - 1}}}});
    }
    return out;
  }
  // The text of ids[begin, end), as the tokenizer decodes it.
  static std::string decode(const std::vector<int32_t>& ids, size_t begin, size_t end) {
    return tok_->decode(std::vector<tokenizer::TokenId>(ids.begin() + static_cast<std::ptrdiff_t>(begin),
                                                        ids.begin() + static_cast<std::ptrdiff_t>(end)));
  }
  static size_t utf8_characters(const std::string& s) {
    size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
  }
};

TEST_F(LogprobsShapes, ChatEntriesCarryEachTokensBytes) {
  const std::vector<int32_t> tokens = ids();
  ASSERT_GT(tokens.size(), 6u);
  const json lp = LogprobsJson(Endpoint::chat_completions, *tok_).build(logged(tokens));
  ASSERT_EQ(lp["content"].size(), tokens.size());
  std::string bytes;
  bool split_character = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const json& entry = lp["content"][i];
    std::string token_bytes;
    for (const json& b : entry["bytes"]) token_bytes += static_cast<char>(b.get<int>());
    bytes += token_bytes;
    if (decode(tokens, i, i + 1) != token_bytes) split_character = true;
    EXPECT_FLOAT_EQ(entry["logprob"].get<float>(), -0.25f * static_cast<float>(i + 1));
    ASSERT_EQ(entry["top_logprobs"].size(), 2u);
    EXPECT_EQ(entry["top_logprobs"][0]["bytes"], entry["bytes"]);
    EXPECT_FLOAT_EQ(entry["top_logprobs"][1]["logprob"].get<float>(), -0.25f * static_cast<float>(i + 1) - 1);
  }
  EXPECT_EQ(bytes, kText) << "the tokens' bytes spell the text";
  EXPECT_TRUE(split_character) << "no token held part of a character: pick a text that splits one";
  EXPECT_NO_THROW(json::parse(to_wire(lp))) << "partial characters go out as valid JSON";
}

TEST_F(LogprobsShapes, EchoedPromptEntriesComeFirst) {
  const std::vector<int32_t> prompt = ids();
  std::vector<engine::TokenLogprobs> scored;
  for (size_t i = 1; i < prompt.size(); ++i) scored.push_back({-1.0f * static_cast<float>(i), {{prompt[i], -0.5f}}});
  LogprobsJson builder(Endpoint::completions, *tok_);
  json all = builder.build_prompt(prompt, scored);
  LogprobsJson::append(all, builder.build(logged({prompt[0], prompt[1]})));
  ASSERT_EQ(all["tokens"].size(), prompt.size() + 2);
  EXPECT_TRUE(all["token_logprobs"][0].is_null()) << "nothing precedes the first prompt token";
  EXPECT_TRUE(all["top_logprobs"][0].is_null());
  EXPECT_FLOAT_EQ(all["token_logprobs"][1].get<float>(), -1.0f);
  EXPECT_FLOAT_EQ(all["token_logprobs"][prompt.size() - 1].get<float>(), -1.0f * static_cast<float>(prompt.size() - 1));
  EXPECT_FLOAT_EQ(all["token_logprobs"][prompt.size()].get<float>(), -0.25f) << "then the generated tokens";
  EXPECT_EQ(all["text_offset"][0], 0);
  EXPECT_EQ(all["text_offset"][prompt.size()].get<size_t>(), utf8_characters(kText)) << "offsets carry on past the prompt";
}

TEST_F(LogprobsShapes, CompletionOffsetsCountCharactersAcrossChunks) {
  const std::vector<int32_t> tokens = ids();
  const std::vector<LoggedToken> all = logged(tokens);
  LogprobsJson builder(Endpoint::completions, *tok_);
  // As a stream builds it: the first three tokens, then the rest.
  const json head = builder.build({all.begin(), all.begin() + 3});
  const json tail = builder.build({all.begin() + 3, all.end()});
  json offsets = head["text_offset"];
  for (const json& o : tail["text_offset"]) offsets.push_back(o);
  ASSERT_EQ(offsets.size(), tokens.size());
  ASSERT_EQ(head["tokens"].size() + tail["tokens"].size(), tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string before = decode(tokens, 0, i);
    // Where the text so far ends on a whole character, the offset is its length in characters.
    if (std::string(kText).compare(0, before.size(), before) == 0 && before.find("\xEF\xBF\xBD") == std::string::npos) {
      EXPECT_EQ(offsets[i].get<size_t>(), utf8_characters(before)) << "token " << i;
    }
  }
  EXPECT_EQ(head["token_logprobs"][0].get<float>(), -0.25f);
  const json& top = head["top_logprobs"][0];
  ASSERT_EQ(top.size(), 2u);
  EXPECT_FLOAT_EQ(top[std::string(tok_->token_bytes(tokens[0]))].get<float>(), -0.25f);
}

// The Responses API's items as chat messages: instructions first, developer as system, a run of
// function calls as one assistant turn, outputs as tool messages, reasoning dropped; function
// tools flattened the other way; unknown members passed on; what cannot be served refused.
TEST(ResponsesApi, TranslatesARequestIntoTheChatRequestItMeans) {
  const json chat = json::parse(chat_request_from_responses(R"({
    "model": "m", "instructions": "Be brief.", "max_output_tokens": 9, "top_k": 3, "store": true,
    "input": [
      {"role": "developer", "content": "Use tools."},
      {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
      {"type": "reasoning", "id": "rs_1", "summary": []},
      {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{\"city\":\"Oslo\"}"},
      {"type": "function_call", "call_id": "c2", "name": "weather", "arguments": "{\"city\":\"Rome\"}"},
      {"type": "function_call_output", "call_id": "c1", "output": "12 C"},
      {"type": "function_call_output", "call_id": "c2", "output": "25 C"}],
    "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}, "strict": true}],
    "tool_choice": {"type": "function", "name": "weather"},
    "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}}})"));
  const json& m = chat["messages"];
  ASSERT_EQ(m.size(), 6u) << chat.dump();
  EXPECT_EQ(m[0], json({{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(m[1], json({{"role", "system"}, {"content", "Use tools."}}));
  EXPECT_EQ(m[2]["content"][0]["text"], "Weather?");
  EXPECT_EQ(m[3]["role"], "assistant");
  EXPECT_TRUE(m[3]["content"].is_null());
  ASSERT_EQ(m[3]["tool_calls"].size(), 2u);
  EXPECT_EQ(m[3]["tool_calls"][1]["id"], "c2");
  EXPECT_EQ(m[3]["tool_calls"][1]["function"]["arguments"], "{\"city\":\"Rome\"}");
  EXPECT_EQ(m[4], json({{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "12 C"}}));
  EXPECT_EQ(chat["tools"][0]["function"]["name"], "weather");
  EXPECT_EQ(chat["tools"][0]["function"]["strict"], true);
  EXPECT_EQ(chat["tool_choice"]["function"]["name"], "weather");
  EXPECT_EQ(chat["max_completion_tokens"], 9);
  EXPECT_EQ(chat["top_k"], 3) << "extensions pass through";
  EXPECT_FALSE(chat.contains("store")) << "Responses-only members do not";
  EXPECT_EQ(chat["response_format"]["json_schema"]["name"], "w");
  // The chat request parses as one (without the schema, which a forced call does not combine with).
  json plain = chat;
  plain.erase("response_format");
  EXPECT_EQ(parse_chat_completion_request(plain.dump()).messages.size(), 6u);

  auto refused = [](const std::string& body) {
    try {
      chat_request_from_responses(body);
    } catch (const ApiError& e) {
      return e.param();
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(refused(R"({"model": "m"})"), "input");
  EXPECT_EQ(refused(R"({"model": "m", "input": "x", "previous_response_id": "resp_1"})"), "previous_response_id");
  EXPECT_EQ(refused(R"({"model": "m", "input": "x", "tools": [{"type": "file_search"}]})"), "tools");
  EXPECT_EQ(refused(R"({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file"}]}]})"), "input");
  EXPECT_EQ(refused(R"({"model": "m", "input": [{"type": "item_reference", "id": "x"}]})"), "input");
  EXPECT_EQ(refused(R"({"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}})"), "text");
  EXPECT_EQ(refused("[1]"), "");
  EXPECT_EQ(responses_param("messages"), "input");
  EXPECT_EQ(responses_param("max_tokens"), "max_output_tokens");
}

// A chat stream's frames, split anywhere, become the same Responses events; the text deltas
// add up to the message, the call's pieces to its arguments, and the last event holds them all.
TEST(ResponsesApi, TranslatesAStreamSplitAnywhere) {
  const std::string chat_stream =
      "data: {\"id\":\"chatcmpl-abc\",\"created\":5,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
      ": waiting\n\n"
      "data: {\"id\":\"chatcmpl-abc\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
      "data: {\"id\":\"chatcmpl-abc\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"
      "data: {\"id\":\"chatcmpl-abc\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\","
      "\"type\":\"function\",\"function\":{\"name\":\"add\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n"
      "data: {\"id\":\"chatcmpl-abc\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
      "\"function\":{\"arguments\":\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n"
      "data: {\"id\":\"chatcmpl-abc\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":4}}\n\n"
      "data: [DONE]\n\n";
  auto events_of = [&](size_t piece) {
    ResponseStream stream(json{{"model", "m"}});
    std::string out;
    for (size_t at = 0; at < chat_stream.size(); at += piece) out += stream.translate(chat_stream.substr(at, piece));
    return out;
  };
  const std::string whole = events_of(chat_stream.size());
  for (size_t piece : {1u, 3u, 17u}) EXPECT_EQ(events_of(piece), whole) << piece;
  std::vector<json> events;
  std::string text, arguments;
  for (size_t at = 0; (at = whole.find("data: ", at)) != std::string::npos;) {
    const size_t end = whole.find("\n\n", at);
    events.push_back(json::parse(whole.substr(at + 6, end - at - 6)));
    at = end;
    const json& e = events.back();
    EXPECT_EQ(e["sequence_number"], events.size() - 1);
    if (e["type"] == "response.output_text.delta") text += e["delta"].get<std::string>();
    if (e["type"] == "response.function_call_arguments.delta") arguments += e["delta"].get<std::string>();
  }
  EXPECT_NE(whole.find(": waiting\n\n"), std::string::npos) << "heartbeats pass on";
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.front()["type"], "response.created");
  EXPECT_EQ(events.front()["response"]["id"], "resp_abc");
  EXPECT_EQ(text, "Hello");
  EXPECT_EQ(arguments, "{\"a\":1}");
  const json& last = events.back();
  EXPECT_EQ(last["type"], "response.completed");
  ASSERT_EQ(last["response"]["output"].size(), 2u);
  EXPECT_EQ(last["response"]["output"][0]["content"][0]["text"], "Hello");
  EXPECT_EQ(last["response"]["output"][1]["arguments"], "{\"a\":1}");
  EXPECT_EQ(last["response"]["output"][1]["call_id"], "call_1");
  EXPECT_EQ(last["response"]["usage"]["total_tokens"], 11);
}

}  // namespace
}  // namespace fathom::server
