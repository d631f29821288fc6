// OpenAI's Responses API (POST /v1/responses), served by translation: a Responses request becomes
// the chat completions request it means, runs as one, and the chat completion (or its stream of
// chunks) becomes the Response object (or the Responses stream of typed events).
//
// Read: `model`, `input` (a string, or items: messages with text content, `function_call`,
// `function_call_output`; `reasoning` items are dropped, as a chat prompt drops earlier
// reasoning), `instructions` (a system message first), `tools` (function tools), `tool_choice`,
// `parallel_tool_calls`, `max_output_tokens`, `temperature`, `top_p`, `text.format` (text,
// json_object, json_schema), `stream`, `previous_response_id` (the stored conversation it ended
// comes before `input`; its instructions do not carry over, as in OpenAI's API) and `store`.
// Refused with a 400 naming the field: `conversation` (the Conversations API), tools other than
// functions, and input items that are not text (images, files). `metadata`, `user`, `reasoning`,
// `include`, `truncation` and `service_tier` are accepted and have no effect here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/response_store.h"

namespace fathom::server {

// The chat completions request body for a Responses request body. Throws ApiError (400) naming
// the Responses field at fault. `store` answers previous_response_id (without one it is refused);
// `conversation`, when given, receives the input items the request stands for (the previous
// response's conversation, then its own input), for storing the response it gets.
std::string chat_request_from_responses(std::string_view body, const ResponseStore* store = nullptr,
                                        nlohmann::ordered_json* conversation = nullptr);

// The entry to store for a response: `conversation` (its input items, as chat_request_from_responses
// gave them) with an id for each item that has none, then the response's output items.
ResponseStore::Entry stored_response(nlohmann::ordered_json response, nlohmann::ordered_json conversation);

// GET /v1/responses/{id}/input_items: a page of the input items that led to a stored response
// (those of the responses it continued too), as OpenAI lists them: `order` "desc" (the default,
// newest first) or "asc", `limit` 1-100 (20), `after` an item id. Throws ApiError (400) naming
// the parameter.
nlohmann::ordered_json input_items_page(const ResponseStore::Entry& entry, const std::string& order,
                                        const std::string& limit, const std::string& after);

// A chat completions error's `param` as the Responses API names it ("messages" → "input").
std::string responses_param(const std::string& chat_param);

// The Response object for a whole chat completion. `request`: the Responses request as parsed.
nlohmann::ordered_json response_from_chat(const nlohmann::json& chat, const nlohmann::json& request);

// A chat completion stream's frames in, the Responses API's events out.
class ResponseStream {
 public:
  explicit ResponseStream(nlohmann::json request) : request_(std::move(request)) {}

  // The events for some bytes of the chat stream (whole SSE events or not: what does not end
  // an event yet is kept for the next call).
  std::string translate(std::string_view chat_bytes);

  // The Response as the stream ended it (completed or incomplete); nullptr before that, and for a
  // stream that failed.
  const nlohmann::ordered_json* final_response() const { return final_.is_null() ? nullptr : &final_; }

 private:
  std::string on_data(const std::string& data);      // one `data:` line's text
  std::string on_frame(const nlohmann::json& chunk);  // a chunk or an error event
  std::string on_chunk(const nlohmann::json& chunk);
  std::string event(const std::string& type, nlohmann::ordered_json body);
  std::string open_message();
  std::string close_items();
  nlohmann::ordered_json response(const std::string& status) const;

  nlohmann::json request_;
  std::string pending_;  // bytes of an SSE event not yet whole
  std::string id_;
  int64_t created_ = 0;
  int64_t sequence_ = 0;
  bool started_ = false;
  bool finished_ = false;
  // The items so far, in output order; the message (if any) and the calls by their index.
  nlohmann::ordered_json output_ = nlohmann::ordered_json::array();
  int message_index_ = -1;
  std::string message_id_;
  std::string text_;
  int reasoning_index_ = -1;  // the reasoning item (--reasoning-parser), and its text so far
  std::string reasoning_;
  std::vector<int> call_items_;  // chat tool-call index → output index
  std::string finish_reason_;
  nlohmann::ordered_json usage_;
  nlohmann::ordered_json final_;
};

}  // namespace fathom::server
