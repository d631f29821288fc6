// The HTTP side of `fathom serve` (cpp-httplib): routes, API-key check, request-size limit, and
// OpenAI-style error bodies for every failure, including the ones the HTTP library detects
// itself (unknown route, unparsable request, oversize body).
//
//   GET  /health                 liveness and load; never needs the API key
//   GET  /v1/models              the served model
//   GET  /v1/models/{id}
//   POST /v1/chat/completions
//   POST /v1/completions
//   POST /v1/responses           OpenAI's Responses API, stored for previous_response_id;
//   GET, DELETE /v1/responses/{id}   a stored response; GET .../input_items its inputs
//   POST /tokenize, /detokenize   the tokenizer alone (vLLM's endpoints)
//   GET  /metrics                Prometheus text; like /health, never needs the API key
//
// Each connection is served on a thread of a pool sized to hold every request the engine can
// hold (running + queued) plus a few for /health and /v1/models, so that a full engine answers
// 503 instead of leaving connections unread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/completion_endpoint.h"
#include "server/engine_loop.h"
#include "server/response_store.h"
#include "server/served_model.h"
#include "server/tokenize_endpoint.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}

namespace fathom::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;               // 0: any free port (bind() says which)
  std::string api_key;           // empty: no authentication
  size_t max_body_bytes = 1 << 20;
  size_t threads = 16;
  std::vector<std::string> cors_origins;  // server.cors_origins
};

class HttpServer {
 public:
  HttpServer(const CompletionEndpoint& completions, const TokenizeEndpoint& tokenize, const EngineLoop& loop,
             ServedModel model, HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket; returns the port. Throws io_error when the address is taken
  // or cannot be bound.
  int bind();
  // Serves until stop() (from another thread). Returns false when listening failed.
  bool serve();
  void stop();

 private:
  void add_routes();
  // POST /v1/responses: run as the chat completion it translates to, stored unless told not to.
  void handle_responses(const httplib::Request& req, const std::string& body, httplib::Response& res);
  // CORS (server.cors_origins): headers on every reply to an allowed origin, and preflights.
  void add_cors();
  // The Access-Control-Allow-Origin value for a request's Origin; empty when it is not allowed.
  std::string allowed_origin(const std::string& origin) const;

  const CompletionEndpoint& completions_;
  const TokenizeEndpoint& tokenize_;
  const EngineLoop& loop_;
  ServedModel model_;
  HttpOptions options_;
  ResponseStore responses_;
  std::unique_ptr<httplib::Server> http_;
};

// True when `authorization` (the header's value) is "Bearer <api_key>". Compares in constant
// time so that the key cannot be guessed byte by byte from response times.
bool bearer_matches(const std::string& authorization, const std::string& api_key);

}  // namespace fathom::server
