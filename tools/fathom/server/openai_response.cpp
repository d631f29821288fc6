#include "server/openai_response.h"

#include <chrono>
#include <random>

namespace fathom::server {

namespace {

using nlohmann::json;

std::string random_suffix() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  std::string s(24, ' ');
  for (char& c : s) c = kAlphabet[pick(rng)];
  return s;
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

json envelope(const ResponseHeader& h, const char* object) {
  return {{"id", h.id}, {"object", object}, {"created", h.created}, {"model", h.model}};
}

json finish_json(const std::optional<std::string>& reason) { return reason ? json(*reason) : json(nullptr); }

json tool_calls_json(const std::vector<ParsedToolCall>& calls) {
  json all = json::array();
  for (const ParsedToolCall& c : calls) {
    all.push_back({{"id", new_tool_call_id()},
                   {"type", "function"},
                   {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  }
  return all;
}

// A stream's pieces: a call's first piece has its id, type and name; the rest its index and
// more of its arguments.
json tool_call_deltas_json(const std::vector<ToolCallDelta>& deltas) {
  json all = json::array();
  for (const ToolCallDelta& d : deltas) {
    json piece = {{"index", d.index}};
    if (d.name) {
      piece["id"] = new_tool_call_id();
      piece["type"] = "function";
      piece["function"] = {{"name", *d.name}, {"arguments", d.arguments}};
    } else {
      piece["function"] = {{"arguments", d.arguments}};
    }
    all.push_back(std::move(piece));
  }
  return all;
}

}  // namespace

ResponseHeader new_response_header(Endpoint endpoint, const std::string& model) {
  ResponseHeader h;
  h.endpoint = endpoint;
  h.id = (endpoint == Endpoint::chat_completions ? "chatcmpl-" : "cmpl-") + random_suffix();
  h.created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  h.model = model;
  return h;
}

std::string new_tool_call_id() { return "call_" + random_suffix(); }

std::string finish_reason_with_calls(const std::string& reason, bool called) {
  return !called || reason == "length" ? reason : "tool_calls";
}

std::string finish_reason_text(engine::FinishReason reason) {
  return reason == engine::FinishReason::length ? "length" : "stop";
}

json full_response(const ResponseHeader& h, const std::vector<Choice>& choices, const Usage& usage) {
  const bool chat = h.endpoint == Endpoint::chat_completions;
  json response = envelope(h, chat ? "chat.completion" : "text_completion");
  json all = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    json choice = {{"index", i}};
    if (chat) {
      json message = {{"role", "assistant"}, {"content", c.null_content ? json(nullptr) : json(c.text)}};
      if (c.reasoning) message["reasoning_content"] = c.reasoning->empty() ? json(nullptr) : json(*c.reasoning);
      if (!c.tool_calls.empty()) message["tool_calls"] = tool_calls_json(c.tool_calls);
      choice["message"] = std::move(message);
    } else {
      choice["text"] = c.text;
    }
    choice["logprobs"] = c.logprobs;
    choice["finish_reason"] = c.finish_reason;
    if (c.token_ids) choice["token_ids"] = *c.token_ids;
    all.push_back(std::move(choice));
  }
  response["choices"] = std::move(all);
  response["usage"] = usage_json(usage);
  return response;
}

json stream_chunk(const ResponseHeader& h, const ChunkContent& c, bool with_usage_field) {
  json chunk;
  json choice;
  if (h.endpoint == Endpoint::chat_completions) {
    chunk = envelope(h, "chat.completion.chunk");
    json delta = json::object();
    if (c.first) delta["role"] = "assistant";
    if (c.first || !c.text.empty()) delta["content"] = c.text;
    if (!c.reasoning.empty()) delta["reasoning_content"] = c.reasoning;
    if (!c.tool_calls.empty()) delta["tool_calls"] = tool_call_deltas_json(c.tool_calls);
    choice = {{"index", c.index}, {"delta", delta}, {"logprobs", c.logprobs}, {"finish_reason", finish_json(c.finish_reason)}};
  } else {
    chunk = envelope(h, "text_completion");
    choice = {{"index", c.index}, {"text", c.text}, {"logprobs", c.logprobs}, {"finish_reason", finish_json(c.finish_reason)}};
  }
  if (c.token_ids) choice["token_ids"] = *c.token_ids;
  chunk["choices"] = json::array({choice});
  if (with_usage_field || c.usage) chunk["usage"] = c.usage ? usage_json(*c.usage) : json(nullptr);
  return chunk;
}

json usage_chunk(const ResponseHeader& h, const Usage& usage) {
  json chunk = envelope(h, h.endpoint == Endpoint::chat_completions ? "chat.completion.chunk" : "text_completion");
  chunk["choices"] = json::array();
  chunk["usage"] = usage_json(usage);
  return chunk;
}

std::string to_wire(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace fathom::server
