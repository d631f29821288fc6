// `fathom serve`: an OpenAI-compatible HTTP server over one model (see docs/server.md).
//
// Threads: the HTTP library's pool answers connections; one engine thread runs the engine,
// batching the requests of all connections; one watcher thread turns SIGINT/SIGTERM into an
// orderly stop (waiting requests are told the server is going away, then the listener closes).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "fathom/core/error.h"
#include "fathom/core/logging.h"
#include "model_session.h"
#include "server/completion_endpoint.h"
#include "server/engine_loop.h"
#include "server/http_server.h"
#include "server/served_model.h"
#include "server/shutdown_signals.h"

namespace fathom::cli {
namespace {

struct ServeOptions {
  DeploymentOptions deploy;
  std::string model_dir;
  std::optional<std::string> host;
  std::optional<int64_t> port;
  std::optional<std::string> api_key;
  std::string reasoning_parser;
};

server::HttpOptions http_options(const ServerConfig& c, const RuntimeConfig& runtime) {
  server::HttpOptions o;
  o.host = c.host;
  o.port = static_cast<int>(c.port);
  o.api_key = c.api_key;
  o.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
  o.cors_origins = c.cors_origins;
  // One thread per request the engine can hold (running and queued), plus a few so that
  // /health and refusals are answered while it is full; bounded for huge queue settings.
  o.threads = static_cast<size_t>(std::min<int64_t>(runtime.max_batch + c.max_queue + 8, 512));
  return o;
}

int run_serve(const GlobalOptions& global, const ServeOptions& o) {
  server::ShutdownSignals signals;  // first: every thread started from here on inherits the mask
  ModelSession s = ModelSession::open(global, o.deploy, o.model_dir, /*require_tokenizer=*/true);
  if (o.host) s.config.server.host = *o.host;
  if (o.port) s.config.server.port = *o.port;
  if (o.api_key) s.config.server.api_key = *o.api_key;

  server::RequestDefaults defaults;
  defaults.sampling = sampling_from(s.config.generation);
  defaults.max_new_tokens = s.config.generation.max_new_tokens;
  defaults.max_seq_len = s.config.runtime.max_seq_len;
  defaults.parse_reasoning = o.reasoning_parser == "deepseek-r1";
  const server::ServedModel model = server::ServedModel::from_directory(o.model_dir);

  server::EngineLoop loop(*s.engine);
  server::CompletionEndpoint completions(loop, *s.tok, defaults, model);
  server::TokenizeEndpoint tokenize(*s.tok, model, s.config.runtime.max_seq_len);
  server::HttpServer http(completions, tokenize, loop, model, http_options(s.config.server, s.config.runtime));
  const int port = http.bind();
  signals.on_signal([&] {
    loop.stop();  // waiting requests answer 503, streams end with an error event...
    completions.wait_until_idle(std::chrono::seconds(3));  // ...which reaches the clients
    http.stop();
  });
  // Before `http` and `loop` go, whichever way this function ends: no action may outlive them.
  struct StopWatching {
    server::ShutdownSignals& signals;
    ~StopWatching() { signals.finish(); }
  } stop_watching{signals};
  if (s.config.server.max_queue == 0) {
    // The engine counts a request as waiting until its next step, so no request gets in.
    log().warn("server.max_queue = 0: every request will be refused with 503; use at least 1");
  }
  std::fprintf(stderr, "serving model '%s' on %s (max_batch %lld, max_queue %lld, KV cache %.1f MiB %s%s)\n",
               model.id.c_str(), backend_names(s.model->backends()).c_str(),
               static_cast<long long>(s.config.runtime.max_batch), static_cast<long long>(s.config.server.max_queue),
               static_cast<double>(s.model->kv_cache_bytes()) / (1 << 20),
               std::string(dtype_name(s.config.runtime.kv_cache_dtype)).c_str(),
               s.config.server.api_key.empty() ? "" : ", API key required");
  const std::string& host = s.config.server.host;
  const std::string url_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;  // IPv6
  std::fprintf(stderr, "listening on http://%s:%d\n", url_host.c_str(), port);
  std::fflush(stderr);
  if (!http.serve()) throw io_error("the HTTP server stopped unexpectedly");
  loop.stop();
  return 0;
}

void setup(CLI::App& root, GlobalOptions& global, CommandRunner& run) {
  auto* cmd = root.add_subcommand("serve", "OpenAI-compatible HTTP server (see docs/server.md)");
  auto o = std::make_shared<ServeOptions>();
  o->deploy.add_to(*cmd);
  o->deploy.add_speculative_to(*cmd);
  o->deploy.add_chat_template_to(*cmd);
  cmd->add_option("--model", o->model_dir, "model directory or GGUF file")->required();
  cmd->add_option("--host", o->host, "listen address (default: server.host, 127.0.0.1)");
  cmd->add_option("--port", o->port, "listen port; 0 picks a free one (default: server.port, 8080)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o->api_key, "require 'Authorization: Bearer KEY' (default: server.api_key)");
  cmd->add_option("--reasoning-parser", o->reasoning_parser,
                  "deepseek-r1: return a thinking model's reasoning (<think>...</think>) as reasoning_content, "
                  "apart from the answer's content")
      ->check(CLI::IsMember({"deepseek-r1"}));
  cmd->callback([&global, &run, o] { run = [&global, o] { return run_serve(global, *o); }; });
}

FATHOM_REGISTER_COMMAND(setup);

}  // namespace
}  // namespace fathom::cli
