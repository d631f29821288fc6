// POST /v1/chat/completions and /v1/completions once the body is read and the caller
// authenticated: parse, check the model, tokenize, submit to the engine loop, then answer with
// one JSON response or an SSE stream.
//
// Streams write each token as it comes. A failed write means the client is gone: the request is
// cancelled and its batch slot freed at the engine's next step. While a request waits (for a
// slot, or for a slow step) the stream sends a heartbeat comment every second, so that a client
// that left is noticed then too. A non-streaming request cannot notice a departed client (there
// is nothing to write until the end); it runs to max_tokens.
#pragma once

#include <atomic>
#include <chrono>
#include <span>
#include <string>

#include "fathom/tokenizer/tokenizer.h"
#include "server/engine_loop.h"
#include "server/generation_request.h"
#include "server/reply_parser.h"
#include "server/reply_reader.h"
#include "server/openai_request.h"
#include "server/served_model.h"

namespace httplib {
struct Request;
struct Response;
}

namespace fathom::server {

class CompletionEndpoint {
 public:
  CompletionEndpoint(EngineLoop& loop, const tokenizer::Tokenizer& tok, RequestDefaults defaults, ServedModel model);

  // Fills `res`: a 200 response or stream, or an OpenAI error. Never throws. With `request`, a
  // non-streaming reply whose client closes the connection is cancelled (client_connection.h).
  void handle(Endpoint endpoint, const std::string& body, httplib::Response& res,
              const httplib::Request* request = nullptr) const;

  // For an orderly shutdown, after the engine loop stopped: waits until every response has
  // been handed over (streams included: they end with an error event once the loop is
  // unavailable), or until `limit` passes. Returns whether all were.
  bool wait_until_idle(std::chrono::milliseconds limit) const;

  // How long a waiting stream stays silent before a heartbeat.
  static constexpr std::chrono::milliseconds kHeartbeat{1000};

 private:
  // `prompts`: what the engine runs for each prompt (chat: one), request.n choices each.
  void respond_whole(const CompletionRequest& request, const std::vector<engine::GenerationRequest>& prompts,
                     Reasoning reasoning, httplib::Response& res, const httplib::Request* http_request) const;
  void respond_stream(const CompletionRequest& request, const std::vector<engine::GenerationRequest>& prompts,
                      Reasoning reasoning, httplib::Response& res) const;
  std::string echoed_prompt(std::span<const int32_t> prompt) const;
  // Where a chat reply's reasoning starts (--reasoning-parser): inside it when the prompt ends
  // with "<think>" (R1's template, V3.1's thinking mode), else only if the reply opens it.
  Reasoning reply_reasoning(const CompletionRequest& request, std::span<const int32_t> prompt) const;
  // How a chat request's replies are split into reasoning, content and tool calls; nullopt when
  // they are not (completions, or nothing to split).
  std::optional<ReplyReader> reply_reader(const CompletionRequest& request, Reasoning reasoning) const;

  EngineLoop& loop_;
  const tokenizer::Tokenizer& tok_;
  RequestDefaults defaults_;
  ServedModel model_;
  mutable std::atomic<int64_t> open_responses_{0};
};

}  // namespace fathom::server
