#include "server/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"
#include "fathom/core/logging.h"
#include "server/api_error.h"
#include "server/metrics.h"
#include "server/responses_api.h"

namespace fathom::server {

namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";

void reply(httplib::Response& res, const json& body) {
  res.status = 200;
  res.set_content(body.dump(), kJson);
}

void reply_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status();
  res.set_content(e.body(), kJson);
}

json model_json(const ServedModel& m) {
  return {{"id", m.id}, {"object", "model"}, {"created", m.created}, {"owned_by", "fathom"}};
}

// Routes by path, for telling "wrong method" (405) from "no such route" (404).
bool is_known_path(const std::string& path) {
  return path == "/health" || path == "/metrics" || path == "/v1/models" ||
         (path.rfind("/v1/models/", 0) == 0 && path.size() > 11) || path == "/v1/chat/completions" ||
         path == "/v1/completions" || path == "/v1/responses" || (path.rfind("/v1/responses/", 0) == 0 && path.size() > 14) ||
         path == "/tokenize" || path == "/detokenize";
}

// The request body through httplib's content reader, so that the size limit holds for chunked
// bodies too (httplib checks it only against Content-Length). Past the limit the rest is read
// and dropped: answering before the body is consumed would leave it to be parsed as the next
// request on the connection.
enum class BodyStatus { ok, too_large, unreadable };

BodyStatus read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                     size_t limit, std::string& body) {
  // Without either header an HTTP/1.1 request has no body (RFC 9112 6.3); httplib would instead
  // read until the client closes the connection.
  if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) return BodyStatus::ok;
  bool too_large = false;
  const bool read = reader([&](const char* data, size_t n) {
    if (too_large || body.size() + n > limit) {
      too_large = true;
      body.clear();
      return true;
    }
    body.append(data, n);
    return true;
  });
  // httplib sets 413 itself when Content-Length exceeds its payload limit.
  if (too_large || res.status == 413) return BodyStatus::too_large;
  return read ? BodyStatus::ok : BodyStatus::unreadable;
}

}  // namespace

bool bearer_matches(const std::string& authorization, const std::string& api_key) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  }
  std::string_view given = std::string_view(authorization).substr(kScheme.size());
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  // Every byte of the longer string is visited whatever the content.
  unsigned char diff = given.size() == api_key.size() ? 0 : 1;
  const size_t n = std::max(given.size(), api_key.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char a = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    const unsigned char b = i < api_key.size() ? static_cast<unsigned char>(api_key[i]) : 0;
    diff |= static_cast<unsigned char>(a ^ b);
  }
  return diff == 0;
}

HttpServer::HttpServer(const CompletionEndpoint& completions, const TokenizeEndpoint& tokenize, const EngineLoop& loop,
                       ServedModel model, HttpOptions options)
    : completions_(completions),
      tokenize_(tokenize),
      loop_(loop),
      model_(std::move(model)),
      options_(std::move(options)),
      http_(std::make_unique<httplib::Server>()) {
  const size_t threads = std::max<size_t>(options_.threads, 4);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_keep_alive_max_count(100);
  add_routes();
  if (!options_.cors_origins.empty()) add_cors();
}

std::string HttpServer::allowed_origin(const std::string& origin) const {
  if (origin.empty()) return {};
  for (const std::string& allowed : options_.cors_origins) {
    if (allowed == "*") return "*";
    if (allowed == origin) return origin;
  }
  return {};
}

void HttpServer::add_cors() {
  // Every reply (errors, streams and refusals included) carries the header the browser needs
  // to hand it to the page; the value depends on the Origin, which caches must key on.
  http_->set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const std::string allowed = allowed_origin(req.get_header_value("Origin"));
    if (allowed.empty()) return;
    res.set_header("Access-Control-Allow-Origin", allowed);
    if (allowed != "*") res.set_header("Vary", "Origin");
  });
  // The preflight a browser sends before a POST with a JSON body or an Authorization header.
  // It carries no credentials, so it is answered without the API key; the request itself is not.
  http_->Options(".*", [this](const httplib::Request& req, httplib::Response& res) {
    if (allowed_origin(req.get_header_value("Origin")).empty()) {
      reply_error(res, ApiError(403, "invalid_request_error", "this origin may not call the API (server.cors_origins)"));
      return;
    }
    res.status = 204;
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    const std::string asked = req.get_header_value("Access-Control-Request-Headers");
    res.set_header("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
    res.set_header("Access-Control-Max-Age", "600");
  });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::add_routes() {
  auto authorized = [this](const httplib::Request& req, httplib::Response& res) {
    if (options_.api_key.empty()) return true;
    if (bearer_matches(req.get_header_value("Authorization"), options_.api_key)) return true;
    const bool missing = !req.has_header("Authorization");
    reply_error(res, ApiError(401, "invalid_request_error",
                              missing ? "missing API key: send 'Authorization: Bearer <key>'" : "incorrect API key provided",
                              {}, "invalid_api_key"));
    return false;
  };

  http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const EngineStats s = loop_.stats();
    reply(res, {{"status", loop_.unavailable() ? "unavailable" : "ok"},
                {"model", model_.id},
                {"running", s.running},
                {"waiting", s.waiting},
                {"completed", s.completed},
                {"cancelled", s.cancelled},
                {"failed", s.failed},
                {"speculative", engine::speculation_name(s.speculation)},
                {"drafts", s.drafts.drafted},
                {"drafts_accepted", s.drafts.accepted},
                {"prompt_tokens", s.prompts.prompt_tokens},
                {"prompt_tokens_cached", s.prompts.cached_tokens}});
    if (loop_.unavailable()) res.status = 503;
  });

  http_->Get("/v1/models", [this, authorized](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    reply(res, {{"object", "list"}, {"data", json::array({model_json(model_)})}});
  });

  http_->Get("/v1/models/(.+)", [this, authorized](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    const std::string id = req.matches[1];
    if (!model_.matches(id)) {
      return reply_error(res, ApiError(404, "invalid_request_error", "the model '" + id + "' does not exist", "model",
                                       "model_not_found"));
    }
    reply(res, model_json(model_));
  });

  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(prometheus_metrics(loop_, model_.id), kPrometheusContentType);
  });

  // A POST route: the body read within the size limit, then the key checked, then `handle`.
  auto body_route = [this, authorized](auto handle) {
    return [this, authorized, handle](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& reader) {
      std::string body;
      switch (read_body(req, res, reader, options_.max_body_bytes, body)) {
        case BodyStatus::too_large:
          return reply_error(res, api_error_for_status(413, "the limit is " + std::to_string(options_.max_body_bytes) +
                                                                " bytes (server.max_body_bytes)"));
        case BodyStatus::unreadable:
          return reply_error(res, bad_request("could not read the request body"));
        case BodyStatus::ok:
          break;
      }
      // After the body, so that a refused request leaves the connection clean for the next one.
      if (!authorized(req, res)) return;
      handle(req, body, res);
    };
  };
  for (const Endpoint endpoint : {Endpoint::chat_completions, Endpoint::completions}) {
    http_->Post(endpoint == Endpoint::chat_completions ? "/v1/chat/completions" : "/v1/completions",
                body_route([this, endpoint](const httplib::Request& req, const std::string& body, httplib::Response& res) {
                  completions_.handle(endpoint, body, res, &req);
                }));
  }
  // OpenAI's Responses API, run as the chat completion it translates to (responses_api.h).
  http_->Post("/v1/responses", body_route([this](const httplib::Request& req, const std::string& body,
                                                 httplib::Response& res) { handle_responses(req, body, res); }));
  http_->Get("/v1/responses/([^/]+)", [this, authorized](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    const std::string id = req.matches[1];
    const auto entry = responses_.get(id);
    if (!entry) return reply_error(res, ApiError(404, "invalid_request_error", "no stored response '" + id + "'"));
    res.set_content(entry->response.dump(), kJson);
  });
  http_->Get("/v1/responses/([^/]+)/input_items", [this, authorized](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    const std::string id = req.matches[1];
    const auto entry = responses_.get(id);
    if (!entry) return reply_error(res, ApiError(404, "invalid_request_error", "no stored response '" + id + "'"));
    try {
      res.set_content(input_items_page(*entry, req.get_param_value("order"), req.get_param_value("limit"),
                                       req.get_param_value("after"))
                          .dump(),
                      kJson);
    } catch (const ApiError& e) {
      reply_error(res, e);
    }
  });
  http_->Delete("/v1/responses/([^/]+)", [this, authorized](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    const std::string id = req.matches[1];
    if (!responses_.erase(id)) return reply_error(res, ApiError(404, "invalid_request_error", "no stored response '" + id + "'"));
    reply(res, {{"id", id}, {"object", "response"}, {"deleted", true}});
  });
  auto tokenizer_route = [this, &body_route](json (TokenizeEndpoint::*method)(std::string_view) const) {
    return body_route([this, method](const httplib::Request&, const std::string& body, httplib::Response& res) {
      try {
        reply(res, (tokenize_.*method)(body));
      } catch (const ApiError& e) {
        reply_error(res, e);
      }
    });
  };
  http_->Post("/tokenize", tokenizer_route(&TokenizeEndpoint::tokenize));
  http_->Post("/detokenize", tokenizer_route(&TokenizeEndpoint::detokenize));

  // Every reply httplib made up itself (404, 400, 413, ...) gets an OpenAI error body; replies
  // that already have a body keep it.
  http_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    ApiError e = api_error_for_status(res.status);
    if (res.status == 404) {
      e = is_known_path(req.path) ? api_error_for_status(405, req.method + " " + req.path)
                                  : api_error_for_status(404, req.method + " " + req.path);
    }
    reply_error(res, e);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log().error("request handler failed: {}", what);
    reply_error(res, ApiError(500, "server_error", "internal error: " + what));
  });
}

void HttpServer::handle_responses(const httplib::Request& req, const std::string& body, httplib::Response& res) {
  std::string chat_body;
  auto conversation = std::make_shared<nlohmann::ordered_json>();
  try {
    chat_body = chat_request_from_responses(body, &responses_, conversation.get());
  } catch (const ApiError& e) {
    return reply_error(res, e);
  }
  completions_.handle(Endpoint::chat_completions, chat_body, res, &req);
  const json request = json::parse(body);  // parsed once already: valid
  if (res.status >= 400) {
    json error = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
    if (error.is_object() && error.contains("error") && error["error"]["param"].is_string()) {
      error["error"]["param"] = responses_param(error["error"]["param"].get<std::string>());
      res.set_content(error.dump(), kJson);
    }
    return;
  }
  const bool store = request.value("store", true);
  // What previous_response_id continues: the inputs that led here, then this response's output.
  auto keep = [this, conversation](const nlohmann::ordered_json& response) {
    responses_.put(response["id"].get<std::string>(), stored_response(response, std::move(*conversation)));
  };
  if (!res.is_chunked_content_provider_) {
    if (res.status != 200) return;
    const nlohmann::ordered_json response = response_from_chat(json::parse(res.body), request);
    if (store) keep(response);
    res.set_content(response.dump(), kJson);
    return;
  }
  // A stream: the chat chunks the endpoint writes go through the translation on their way out,
  // and the response is stored once the stream has ended it.
  auto chat_stream = std::move(res.content_provider_);
  auto events = std::make_shared<ResponseStream>(request);
  auto stored = std::make_shared<bool>(!store);
  res.content_provider_ = [chat_stream, events, stored, keep](size_t offset, size_t length, httplib::DataSink& sink) {
    httplib::DataSink chat_sink;
    chat_sink.write = [&](const char* data, size_t size) {
      const std::string out = events->translate(std::string_view(data, size));
      if (!*stored && events->final_response()) {
        keep(*events->final_response());
        *stored = true;
      }
      return out.empty() || sink.write(out.data(), out.size());
    };
    chat_sink.done = [&] { sink.done(); };
    chat_sink.is_writable = [&] { return sink.is_writable(); };
    return chat_stream(offset, length, chat_sink);
  };
}

int HttpServer::bind() {
  const int port = options_.port == 0 ? http_->bind_to_any_port(options_.host)
                                      : (http_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port < 0) {
    throw io_error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                   " (address in use, or not an address of this machine)");
  }
  return port;
}

bool HttpServer::serve() { return http_->listen_after_bind(); }

void HttpServer::stop() {
  if (http_ && http_->is_running()) http_->stop();
}

}  // namespace fathom::server
