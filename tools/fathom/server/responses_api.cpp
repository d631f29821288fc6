#include "server/responses_api.h"

#include <algorithm>
#include <array>
#include <utility>

#include "server/api_error.h"

namespace fathom::server {

namespace {

using nlohmann::ordered_json;
using json = nlohmann::json;

// Members of a Responses request that the chat request does not take as they are.
constexpr std::array<std::string_view, 19> kResponsesOnly = {
    "input",   "instructions", "tools",      "tool_choice", "max_output_tokens", "text",           "previous_response_id",
    "conversation", "store",   "metadata",   "reasoning",   "include",           "truncation",     "service_tier",
    "background",   "prompt",  "prompt_cache_key", "safety_identifier", "top_logprobs"};

const ordered_json* member(const ordered_json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// A message's content: a string, or text parts (input_text, output_text) as chat text parts.
ordered_json message_content(const ordered_json& content, const std::string& where) {
  if (content.is_string()) return content;
  if (!content.is_array()) throw bad_request("'" + where + "' must be a string or a list of text parts", "input");
  ordered_json parts = ordered_json::array();
  for (size_t j = 0; j < content.size(); ++j) {
    const ordered_json& part = content[j];
    const std::string type = part.is_object() ? part.value("type", "") : "";
    if ((type != "input_text" && type != "output_text" && type != "text") || !part.contains("text") ||
        !part["text"].is_string()) {
      throw bad_request("'" + where + "[" + std::to_string(j) + "]': only text parts (input_text, output_text) are "
                        "supported, not " + (type.empty() ? part.dump() : "'" + type + "'"),
                        "input");
    }
    parts.push_back({{"type", "text"}, {"text", part["text"]}});
  }
  return parts;
}

std::string text_of(const ordered_json& v, const std::string& where) {
  if (!v.is_string()) throw bad_request("'" + where + "' must be a string", "input");
  return v.get<std::string>();
}

// `input` as a list of items: a string is one user message.
ordered_json input_items(const ordered_json& input) {
  if (input.is_string()) {
    return ordered_json::array({{{"type", "message"}, {"role", "user"}, {"content", input}}});
  }
  if (!input.is_array()) throw bad_request("'input' must be a string or a list of items", "input");
  return input;
}

// Input items as chat messages, after the instructions.
void add_input(const ordered_json& input, ordered_json& messages) {
  bool calls_open = false;  // the last message holds function calls that more may join
  for (size_t i = 0; i < input.size(); ++i) {
    const ordered_json& item = input[i];
    const std::string where = "input[" + std::to_string(i) + "]";
    if (!item.is_object()) throw bad_request("'" + where + "' must be an object", "input");
    const std::string type = item.value("type", item.contains("role") ? "message" : "");
    if (type == "message") {
      std::string role = item.contains("role") ? text_of(item["role"], where + ".role") : "";
      if (role == "developer") role = "system";
      if (role != "user" && role != "system" && role != "assistant") {
        throw bad_request("'" + where + ".role' must be user, system, developer or assistant", "input");
      }
      if (!item.contains("content")) throw bad_request("'" + where + ".content' is required", "input");
      messages.push_back({{"role", role}, {"content", message_content(item["content"], where + ".content")}});
      calls_open = false;
    } else if (type == "function_call") {
      ordered_json call = {{"id", text_of(item.value("call_id", ordered_json()), where + ".call_id")},
                           {"type", "function"},
                           {"function", {{"name", text_of(item.value("name", ordered_json()), where + ".name")},
                                         {"arguments", text_of(item.value("arguments", ordered_json()), where + ".arguments")}}}};
      if (!calls_open) messages.push_back({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", ordered_json::array()}});
      messages.back()["tool_calls"].push_back(std::move(call));
      calls_open = true;
    } else if (type == "function_call_output") {
      messages.push_back({{"role", "tool"},
                          {"tool_call_id", text_of(item.value("call_id", ordered_json()), where + ".call_id")},
                          {"content", text_of(item.value("output", ordered_json()), where + ".output")}});
      calls_open = false;
    } else if (type == "reasoning") {
      continue;  // earlier reasoning is not shown to the model again, as chat templates drop it
    } else {
      throw bad_request("'" + where + ".type' " + (type.empty() ? "is missing" : "'" + type + "' is not supported") +
                            " (message, function_call, function_call_output, reasoning)",
                        "input");
    }
  }
}

ordered_json chat_tools(const ordered_json& tools) {
  if (!tools.is_array()) throw bad_request("'tools' must be a list", "tools");
  ordered_json out = ordered_json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const ordered_json& tool = tools[i];
    const std::string type = tool.is_object() ? tool.value("type", "") : "";
    if (type != "function") {
      throw bad_request("'tools[" + std::to_string(i) + "]': only function tools are supported" +
                            (type.empty() ? std::string() : ", not the hosted tool '" + type + "'"),
                        "tools");
    }
    ordered_json function = ordered_json::object();
    for (const char* key : {"name", "description", "parameters", "strict"}) {
      if (const ordered_json* v = member(tool, key)) function[key] = *v;
    }
    out.push_back({{"type", "function"}, {"function", std::move(function)}});
  }
  return out;
}

ordered_json chat_tool_choice(const ordered_json& choice) {
  if (choice.is_string()) return choice;
  if (choice.is_object() && choice.value("type", "") == "function" && choice.contains("name")) {
    return {{"type", "function"}, {"function", {{"name", choice["name"]}}}};
  }
  throw bad_request("'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"name\": ...}",
                    "tool_choice");
}

ordered_json chat_response_format(const ordered_json& text) {
  if (!text.is_object()) throw bad_request("'text' must be an object", "text");
  const ordered_json* format = member(text, "format");
  if (!format) return nullptr;
  const std::string type = format->is_object() ? format->value("type", "") : "";
  if (type == "text") return nullptr;
  if (type == "json_object") return {{"type", "json_object"}};
  if (type == "json_schema") {
    ordered_json spec = ordered_json::object();
    for (const char* key : {"name", "schema", "strict"}) {
      if (const ordered_json* v = member(*format, key)) spec[key] = *v;
    }
    return {{"type", "json_schema"}, {"json_schema", std::move(spec)}};
  }
  throw bad_request("'text.format.type' must be text, json_object or json_schema", "text");
}

std::string suffix_of(const std::string& chat_id) {
  const size_t dash = chat_id.find('-');
  return dash == std::string::npos ? chat_id : chat_id.substr(dash + 1);
}

ordered_json usage_of(const json& chat_usage) {
  if (!chat_usage.is_object()) return nullptr;
  const int64_t input = chat_usage.value("prompt_tokens", int64_t{0});
  const int64_t output = chat_usage.value("completion_tokens", int64_t{0});
  int64_t cached = 0;
  if (auto d = chat_usage.find("prompt_tokens_details"); d != chat_usage.end() && d->is_object()) {
    cached = d->value("cached_tokens", int64_t{0});
  }
  return {{"input_tokens", input},
          {"input_tokens_details", {{"cached_tokens", cached}}},
          {"output_tokens", output},
          {"output_tokens_details", {{"reasoning_tokens", 0}}},
          {"total_tokens", input + output}};
}

// The members of a Response that say what was asked for.
ordered_json response_shell(const json& request, const std::string& id, int64_t created, const std::string& model) {
  auto echo = [&](const char* key, json fallback) {
    const auto it = request.find(key);
    return it == request.end() || it->is_null() ? fallback : *it;
  };
  return {{"id", id},
          {"object", "response"},
          {"created_at", created},
          {"status", "in_progress"},
          {"error", nullptr},
          {"incomplete_details", nullptr},
          {"instructions", echo("instructions", nullptr)},
          {"max_output_tokens", echo("max_output_tokens", nullptr)},
          {"model", model},
          {"output", ordered_json::array()},
          {"parallel_tool_calls", echo("parallel_tool_calls", true)},
          {"temperature", echo("temperature", nullptr)},
          {"top_p", echo("top_p", nullptr)},
          {"tool_choice", echo("tool_choice", "auto")},
          {"tools", echo("tools", json::array())},
          {"text", echo("text", json{{"format", {{"type", "text"}}}})},
          {"previous_response_id", echo("previous_response_id", nullptr)},
          {"store", echo("store", true)},
          {"usage", nullptr}};
}

void set_finish(ordered_json& response, const std::string& finish_reason) {
  if (finish_reason == "length") {
    response["status"] = "incomplete";
    response["incomplete_details"] = {{"reason", "max_output_tokens"}};
  } else {
    response["status"] = "completed";
  }
}

}  // namespace

namespace {

// The items of the stored conversation `previous_response_id` names.
ordered_json previous_items(const ordered_json& id, const ResponseStore* store) {
  if (!store) {
    throw bad_request("'previous_response_id' is not supported here: no responses are stored; send the "
                      "conversation in 'input'", "previous_response_id");
  }
  if (!id.is_string()) throw bad_request("'previous_response_id' must be a string", "previous_response_id");
  auto entry = store->get(id.get<std::string>());
  if (!entry) {
    throw bad_request("previous response '" + id.get<std::string>() + "' not found (it was not stored, was deleted, "
                      "or is older than the " + std::to_string(ResponseStore::kCapacity) + " the server keeps)",
                      "previous_response_id", "previous_response_not_found");
  }
  return std::move(entry->conversation);
}

}  // namespace

std::string chat_request_from_responses(std::string_view body, const ResponseStore* store, ordered_json* conversation) {
  ordered_json r;
  try {
    r = ordered_json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    throw bad_request(std::string("the body is not JSON: ") + e.what());
  }
  if (!r.is_object()) throw bad_request("the body must be a JSON object");
  if (member(r, "conversation")) {
    throw bad_request("'conversation' is not supported (the Conversations API); continue with "
                      "'previous_response_id', or send the conversation in 'input'", "conversation");
  }
  if (const ordered_json* s = member(r, "store"); s && !s->is_boolean()) throw bad_request("'store' must be a boolean", "store");
  // Extensions the chat endpoint reads (logit_bias, ignore_eos, top_k, seed, ...) pass through;
  // the Responses API's own members are translated below or have no effect here.
  ordered_json chat = ordered_json::object();
  for (const auto& [key, value] : r.items()) {
    if (std::find(kResponsesOnly.begin(), kResponsesOnly.end(), key) == kResponsesOnly.end()) chat[key] = value;
  }
  ordered_json messages = ordered_json::array();
  if (const ordered_json* v = member(r, "instructions")) {
    if (!v->is_string()) throw bad_request("'instructions' must be a string", "instructions");
    messages.push_back({{"role", "system"}, {"content", *v}});
  }
  const ordered_json* input = member(r, "input");
  if (!input) throw bad_request("'input' is required", "input");
  ordered_json items = ordered_json::array();
  if (const ordered_json* previous = member(r, "previous_response_id")) items = previous_items(*previous, store);
  for (const ordered_json& item : input_items(*input)) items.push_back(item);
  add_input(items, messages);
  if (conversation) *conversation = std::move(items);
  if (messages.empty()) throw bad_request("'input' holds no message", "input");
  chat["messages"] = std::move(messages);
  if (const ordered_json* v = member(r, "tools")) {
    ordered_json tools = chat_tools(*v);
    if (!tools.empty()) chat["tools"] = std::move(tools);
  }
  if (const ordered_json* v = member(r, "tool_choice")) chat["tool_choice"] = chat_tool_choice(*v);
  if (const ordered_json* v = member(r, "max_output_tokens")) chat["max_completion_tokens"] = *v;
  if (const ordered_json* v = member(r, "text")) {
    ordered_json format = chat_response_format(*v);
    if (!format.is_null()) chat["response_format"] = std::move(format);
  }
  if (r.value("stream", false) == true) chat["stream_options"] = {{"include_usage", true}};
  return chat.dump();
}

ResponseStore::Entry stored_response(ordered_json response, ordered_json conversation) {
  const std::string suffix = response["id"].get<std::string>().substr(5);  // after "resp_"
  ResponseStore::Entry entry{std::move(response), std::move(conversation), 0};
  entry.inputs = entry.conversation.size();
  for (size_t i = 0; i < entry.inputs; ++i) {
    ordered_json& item = entry.conversation[i];
    if (!item.contains("id")) item["id"] = "item_" + suffix + "_" + std::to_string(i);
  }
  for (const ordered_json& item : entry.response["output"]) entry.conversation.push_back(item);
  return entry;
}

ordered_json input_items_page(const ResponseStore::Entry& entry, const std::string& order, const std::string& limit,
                              const std::string& after) {
  if (!order.empty() && order != "asc" && order != "desc") throw bad_request("'order' must be asc or desc", "order");
  int64_t count = 20;
  if (!limit.empty()) {
    const bool digits = limit.size() <= 3 && limit.find_first_not_of("0123456789") == std::string::npos;
    count = digits ? std::stoll(limit) : 0;
    if (count < 1 || count > 100) throw bad_request("'limit' must be an integer from 1 to 100", "limit");
  }
  std::vector<ordered_json> items;
  for (size_t i = 0; i < entry.inputs; ++i) {
    ordered_json item = entry.conversation[i];
    // As OpenAI lists them: a message's text as parts, every item with its status.
    if (item.value("type", "message") == "message") {
      item["type"] = "message";
      if (item["content"].is_string()) {
        const std::string part = item.value("role", "") == "assistant" ? "output_text" : "input_text";
        item["content"] = ordered_json::array({{{"type", part}, {"text", item["content"]}}});
      }
    }
    if (!item.contains("status")) item["status"] = "completed";
    items.push_back(std::move(item));
  }
  if (order != "asc") std::reverse(items.begin(), items.end());
  size_t first = 0;
  if (!after.empty()) {
    const auto it = std::find_if(items.begin(), items.end(), [&](const ordered_json& i) { return i["id"] == after; });
    if (it == items.end()) throw bad_request("'after': no input item '" + after + "'", "after");
    first = static_cast<size_t>(it - items.begin()) + 1;
  }
  const size_t last = std::min(items.size(), first + static_cast<size_t>(count));
  ordered_json data = ordered_json::array();
  for (size_t i = first; i < last; ++i) data.push_back(items[i]);
  return {{"object", "list"},
          {"data", data},
          {"first_id", data.empty() ? ordered_json() : data.front()["id"]},
          {"last_id", data.empty() ? ordered_json() : data.back()["id"]},
          {"has_more", last < items.size()}};
}

std::string responses_param(const std::string& chat_param) {
  if (chat_param == "messages") return "input";
  if (chat_param == "max_tokens" || chat_param == "max_completion_tokens") return "max_output_tokens";
  if (chat_param == "response_format") return "text";
  return chat_param;
}

ordered_json response_from_chat(const json& chat, const json& request) {
  const std::string suffix = suffix_of(chat.value("id", std::string()));
  ordered_json response = response_shell(request, "resp_" + suffix, chat.value("created", int64_t{0}), chat.value("model", ""));
  const json& choice = chat["choices"].at(0);
  const json& message = choice["message"];
  const std::string finish_reason = choice.value("finish_reason", "stop");
  const std::string item_status = finish_reason == "length" ? "incomplete" : "completed";
  ordered_json& output = response["output"];
  if (auto r = message.find("reasoning_content"); r != message.end() && r->is_string() && !r->get<std::string>().empty()) {
    output.push_back({{"type", "reasoning"},
                      {"id", "rs_" + suffix},
                      {"summary", json::array()},
                      {"content", {{{"type", "reasoning_text"}, {"text", *r}}}}});
  }
  if (auto c = message.find("content"); c != message.end() && c->is_string() && !c->get<std::string>().empty()) {
    output.push_back({{"type", "message"},
                      {"id", "msg_" + suffix},
                      {"status", item_status},
                      {"role", "assistant"},
                      {"content", {{{"type", "output_text"}, {"text", *c}, {"annotations", json::array()}}}}});
  }
  if (auto calls = message.find("tool_calls"); calls != message.end() && calls->is_array()) {
    for (size_t i = 0; i < calls->size(); ++i) {
      const json& call = (*calls)[i];
      output.push_back({{"type", "function_call"},
                        {"id", "fc_" + suffix + "_" + std::to_string(i)},
                        {"call_id", call.value("id", "")},
                        {"name", call["function"].value("name", "")},
                        {"arguments", call["function"].value("arguments", "")},
                        {"status", item_status}});
    }
  }
  set_finish(response, finish_reason);
  response["usage"] = usage_of(chat.value("usage", json()));
  return response;
}

// ---- streams ---------------------------------------------------------------------------------

std::string ResponseStream::event(const std::string& type, ordered_json body) {
  body["type"] = type;
  body["sequence_number"] = sequence_++;
  return "event: " + type + "\ndata: " + body.dump() + "\n\n";
}

ordered_json ResponseStream::response(const std::string& status) const {
  ordered_json r = response_shell(request_, id_, created_, request_.value("model", ""));
  r["status"] = status;
  r["output"] = output_;
  if (status != "in_progress") set_finish(r, finish_reason_);
  if (status == "failed") r["status"] = "failed";
  r["usage"] = usage_;
  return r;
}

std::string ResponseStream::open_message() {
  message_index_ = static_cast<int>(output_.size());
  message_id_ = "msg_" + id_.substr(5);
  output_.push_back({{"type", "message"}, {"id", message_id_}, {"status", "in_progress"}, {"role", "assistant"},
                     {"content", json::array()}});
  // Two statements: the events' sequence numbers follow the order they are made in.
  std::string out = event("response.output_item.added", {{"output_index", message_index_}, {"item", output_[message_index_]}});
  out += event("response.content_part.added",
               {{"item_id", message_id_}, {"output_index", message_index_}, {"content_index", 0},
                {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", json::array()}}}});
  return out;
}

std::string ResponseStream::close_items() {
  std::string out;
  const std::string status = finish_reason_ == "length" ? "incomplete" : "completed";
  for (size_t i = 0; i < output_.size(); ++i) {
    ordered_json& item = output_[i];
    const int index = static_cast<int>(i);
    if (static_cast<int>(i) == message_index_) {
      const ordered_json part = {{"type", "output_text"}, {"text", text_}, {"annotations", json::array()}};
      out += event("response.output_text.done",
                   {{"item_id", message_id_}, {"output_index", index}, {"content_index", 0}, {"text", text_}});
      out += event("response.content_part.done",
                   {{"item_id", message_id_}, {"output_index", index}, {"content_index", 0}, {"part", part}});
      item["content"] = json::array({part});
    } else if (index == reasoning_index_) {
      out += event("response.reasoning_text.done",
                   {{"item_id", item["id"]}, {"output_index", index}, {"content_index", 0}, {"text", reasoning_}});
      item["content"] = json::array({{{"type", "reasoning_text"}, {"text", reasoning_}}});
    } else if (item["type"] == "function_call") {
      out += event("response.function_call_arguments.done",
                   {{"item_id", item["id"]}, {"output_index", index}, {"arguments", item["arguments"]}});
    }
    item["status"] = status;
    out += event("response.output_item.done", {{"output_index", index}, {"item", item}});
  }
  return out;
}

std::string ResponseStream::on_chunk(const json& chunk) {
  std::string out;
  if (!started_) {
    started_ = true;
    id_ = "resp_" + suffix_of(chunk.value("id", std::string()));
    created_ = chunk.value("created", int64_t{0});
    out += event("response.created", {{"response", response("in_progress")}});
    out += event("response.in_progress", {{"response", response("in_progress")}});
  }
  if (auto u = chunk.find("usage"); u != chunk.end() && u->is_object()) usage_ = usage_of(*u);
  const auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array() || choices->empty()) return out;
  const json& choice = (*choices)[0];
  const json& delta = choice.value("delta", json::object());
  if (auto r = delta.find("reasoning_content"); r != delta.end() && r->is_string() && !r->get<std::string>().empty()) {
    if (reasoning_index_ < 0) {
      reasoning_index_ = static_cast<int>(output_.size());
      output_.push_back({{"type", "reasoning"}, {"id", "rs_" + id_.substr(5)}, {"summary", json::array()},
                         {"content", json::array()}});
      out += event("response.output_item.added", {{"output_index", reasoning_index_}, {"item", output_[reasoning_index_]}});
    }
    reasoning_ += r->get<std::string>();
    out += event("response.reasoning_text.delta", {{"item_id", output_[reasoning_index_]["id"]},
                                                   {"output_index", reasoning_index_}, {"content_index", 0}, {"delta", *r}});
  }
  if (auto c = delta.find("content"); c != delta.end() && c->is_string() && !c->get<std::string>().empty()) {
    if (message_index_ < 0) out += open_message();
    text_ += c->get<std::string>();
    out += event("response.output_text.delta", {{"item_id", message_id_}, {"output_index", message_index_},
                                                {"content_index", 0}, {"delta", *c}, {"logprobs", json::array()}});
  }
  if (auto calls = delta.find("tool_calls"); calls != delta.end() && calls->is_array()) {
    for (const json& piece : *calls) {
      const auto call = piece.value("index", size_t{0});
      if (call >= call_items_.size()) {
        call_items_.resize(call + 1, -1);
      }
      if (call_items_[call] < 0) {
        call_items_[call] = static_cast<int>(output_.size());
        const json& function = piece.value("function", json::object());
        output_.push_back({{"type", "function_call"},
                           {"id", "fc_" + id_.substr(5) + "_" + std::to_string(call)},
                           {"call_id", piece.value("id", "")},
                           {"name", function.value("name", "")},
                           {"arguments", ""},
                           {"status", "in_progress"}});
        out += event("response.output_item.added", {{"output_index", call_items_[call]}, {"item", output_[call_items_[call]]}});
      }
      ordered_json& item = output_[call_items_[call]];
      const std::string arguments = piece.value("function", json::object()).value("arguments", "");
      if (!arguments.empty()) {
        item["arguments"] = item["arguments"].get<std::string>() + arguments;
        out += event("response.function_call_arguments.delta",
                     {{"item_id", item["id"]}, {"output_index", call_items_[call]}, {"delta", arguments}});
      }
    }
  }
  if (auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) finish_reason_ = f->get<std::string>();
  return out;
}

std::string ResponseStream::on_frame(const json& chunk) {
  const auto e = chunk.find("error");
  if (e == chunk.end() || !e->is_object()) return on_chunk(chunk);
  // The chat stream's error event, then its [DONE]: the response failed.
  finished_ = true;
  const json error = {{"code", e->value("code", json("server_error"))}, {"message", e->value("message", json(""))}};
  std::string out = event("error", {{"code", error["code"]}, {"message", error["message"]}, {"param", e->value("param", json())}});
  ordered_json failed = response("failed");
  failed["error"] = error;
  return out + event("response.failed", {{"response", failed}});
}

std::string ResponseStream::on_data(const std::string& data) {
  if (data == "[DONE]") {
    finished_ = true;
    std::string out = close_items();
    const std::string status = finish_reason_ == "length" ? "incomplete" : "completed";
    final_ = response(status);
    return out + event(status == "completed" ? "response.completed" : "response.incomplete", {{"response", final_}});
  }
  const json chunk = json::parse(data, nullptr, /*allow_exceptions=*/false);
  return chunk.is_discarded() ? std::string() : on_frame(chunk);
}

std::string ResponseStream::translate(std::string_view chat_bytes) {
  pending_.append(chat_bytes);
  std::string out;
  for (size_t end; (end = pending_.find("\n\n")) != std::string::npos;) {
    const std::string frame = pending_.substr(0, end);
    pending_.erase(0, end + 2);
    if (frame.starts_with(":")) {
      out += frame + "\n\n";  // a heartbeat comment: passed on
      continue;
    }
    if (!frame.starts_with("data: ") || finished_) continue;
    try {
      out += on_data(frame.substr(6));
    } catch (const nlohmann::json::exception&) {
      // Not a chunk as the chat endpoint writes them (a member of another type): skipped.
    }
  }
  return out;
}

}  // namespace fathom::server
