#include "server/completion_endpoint.h"

#include <httplib.h>

#include <memory>
#include <optional>
#include <thread>

#include "fathom/core/logging.h"
#include "server/api_error.h"
#include "server/logprobs_json.h"
#include "server/openai_response.h"
#include "server/sse.h"

namespace fathom::server {

namespace {

using Clock = std::chrono::steady_clock;
// How often a waiting HTTP thread looks up from its queue (to notice shutdown, or to send a
// heartbeat). Short enough for a prompt shutdown, long enough to cost nothing.
constexpr std::chrono::milliseconds kPoll{200};

void reply_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status();
  res.set_content(e.body(), "application/json");
}

ApiError shutting_down() { return ApiError(503, "server_error", "the server is shutting down", {}, "server_unavailable"); }

// How a request that ended without stop or length is reported.
ApiError abnormal_end(const engine::TokenEvent& last) {
  if (last.reason == engine::FinishReason::error) {
    return ApiError(500, "server_error", "generation failed: " + last.error);
  }
  return ApiError(503, "server_error", "the request was cancelled", {}, "cancelled");
}

bool ended_normally(const engine::TokenEvent& e) {
  return e.reason == engine::FinishReason::stop || e.reason == engine::FinishReason::length;
}

// Cancels the request when the answering thread leaves early (exception, shutdown, client gone).
class CancelUnlessFinished {
 public:
  CancelUnlessFinished(EngineLoop& loop, engine::RequestId id) : loop_(loop), id_(id) {}
  ~CancelUnlessFinished() {
    if (!finished_) loop_.cancel(id_);
  }
  void finished() { finished_ = true; }

 private:
  EngineLoop& loop_;
  engine::RequestId id_;
  bool finished_ = false;
};

// Counts a response as open for as long as it lives.
class OpenResponse {
 public:
  explicit OpenResponse(std::atomic<int64_t>& count) : count_(count) { ++count_; }
  ~OpenResponse() { --count_; }
  OpenResponse(const OpenResponse&) = delete;
  OpenResponse& operator=(const OpenResponse&) = delete;

 private:
  std::atomic<int64_t>& count_;
};

// The state of one SSE response across calls of httplib's content provider (all on the same
// HTTP thread).
struct StreamState {
  StreamState(EngineLoop& loop, EngineLoop::Submitted s, std::atomic<int64_t>& open_responses)
      : open(open_responses), guard(loop, s.id), submitted(std::move(s)) {}

  OpenResponse open;  // until httplib lets go of the stream
  CancelUnlessFinished guard;
  EngineLoop::Submitted submitted;
  ResponseHeader header;
  bool include_usage = false;
  bool return_token_ids = false;
  std::optional<LogprobsJson> logprobs;  // when asked for: every token gets a chunk that carries them
  bool opened = false;  // the first chunk is out
  bool ended = false;   // [DONE] is out
  Clock::time_point last_write = Clock::now();
  std::vector<engine::TokenEvent> batch;
};

class StreamWriter {
 public:
  StreamWriter(StreamState& state, httplib::DataSink& sink) : state_(state), sink_(sink) {}

  // Each returns false when the write failed: the client is gone.
  bool write(const std::string& frame) {
    state_.last_write = Clock::now();
    return sink_.write(frame.data(), frame.size());
  }
  bool chunk(const ChunkContent& content) {
    return write(sse_event(to_wire(stream_chunk(state_.header, content, state_.include_usage))));
  }
  bool error_and_end(const ApiError& e) {
    // OpenAI clients raise an APIError on a data event that carries "error".
    return write(sse_event(e.body())) && end();
  }
  bool end() {
    state_.ended = true;
    const bool ok = write(sse_done());
    sink_.done();
    return ok;
  }

 private:
  StreamState& state_;
  httplib::DataSink& sink_;
};

// One call of the content provider: writes what the engine produced since the last call, or a
// heartbeat. Returns false to abort the response (the client is gone).
bool pump_stream(StreamState& s, EngineLoop& loop, httplib::DataSink& sink) {
  StreamWriter out(s, sink);
  if (s.ended) {
    sink.done();
    return true;
  }
  if (!s.opened) {
    s.opened = true;
    if (s.header.endpoint == Endpoint::chat_completions) {
      ChunkContent opening;
      opening.first = true;
      if (!out.chunk(opening)) return false;
    }
  }
  if (!s.submitted.events->wait_for(s.batch, kPoll)) {
    if (loop.unavailable()) return out.error_and_end(shutting_down());
    if (Clock::now() - s.last_write >= CompletionEndpoint::kHeartbeat) return out.write(sse_comment("waiting"));
    return true;
  }
  for (const engine::TokenEvent& e : s.batch) {
    if (e.finished && !ended_normally(e)) {
      s.guard.finished();
      return out.error_and_end(abnormal_end(e));
    }
    const bool token_chunk = e.token && (s.return_token_ids || (s.logprobs && e.logprobs));
    if (!e.text.empty() || token_chunk) {
      ChunkContent content;
      content.text = e.text;
      if (s.return_token_ids) content.token_ids = e.token ? std::vector<int32_t>{*e.token} : std::vector<int32_t>{};
      if (s.logprobs && e.token && e.logprobs) content.logprobs = s.logprobs->build({{*e.token, *e.logprobs}});
      if (!out.chunk(content)) return false;
    }
    if (!e.finished) continue;
    s.guard.finished();
    ChunkContent last;
    last.finish_reason = finish_reason_text(e.reason);
    if (!out.chunk(last)) return false;
    if (s.include_usage &&
        !out.write(sse_event(to_wire(usage_chunk(s.header, Usage{e.prompt_tokens, e.completion_tokens, e.cached_tokens}))))) {
      return false;
    }
    return out.end();
  }
  return true;
}

}  // namespace

CompletionEndpoint::CompletionEndpoint(EngineLoop& loop, const tokenizer::Tokenizer& tok, RequestDefaults defaults,
                                       ServedModel model)
    : loop_(loop), tok_(tok), defaults_(std::move(defaults)), model_(std::move(model)) {}

bool CompletionEndpoint::wait_until_idle(std::chrono::milliseconds limit) const {
  const auto deadline = Clock::now() + limit;
  while (open_responses_.load() > 0) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void CompletionEndpoint::handle(Endpoint endpoint, const std::string& body, httplib::Response& res) const {
  OpenResponse open(open_responses_);
  try {
    CompletionRequest request = endpoint == Endpoint::chat_completions ? parse_chat_completion_request(body)
                                                                       : parse_completion_request(body);
    if (!model_.matches(request.model)) {
      throw ApiError(404, "invalid_request_error",
                     "the model '" + request.model + "' does not exist; this server serves '" + model_.id + "'",
                     "model", "model_not_found");
    }
    engine::GenerationRequest generation = build_generation_request(request, tok_, defaults_);
    if (request.stream) {
      respond_stream(request, std::move(generation), res);
    } else {
      respond_whole(request, std::move(generation), res);
    }
  } catch (const Error& e) {
    const ApiError api = api_error_from(e);
    if (api.status() >= 500) log().warn("request failed: {}", api.what());
    reply_error(res, api);
  } catch (const std::exception& e) {
    log().error("request failed: {}", e.what());
    reply_error(res, ApiError(500, "server_error", std::string("internal error: ") + e.what()));
  }
}

void CompletionEndpoint::respond_whole(const CompletionRequest& request, engine::GenerationRequest generation,
                                       httplib::Response& res) const {
  EngineLoop::Submitted submitted = loop_.submit(std::move(generation));
  CancelUnlessFinished guard(loop_, submitted.id);
  std::string text;
  std::vector<int32_t> token_ids;
  std::vector<LoggedToken> logged;
  std::vector<engine::TokenEvent> batch;
  while (true) {
    if (!submitted.events->wait_for(batch, kPoll)) {
      if (loop_.unavailable()) throw shutting_down();
      continue;
    }
    for (const engine::TokenEvent& e : batch) {
      text += e.text;
      if (e.token) token_ids.push_back(*e.token);
      if (e.token && e.logprobs) logged.push_back({*e.token, *e.logprobs});
      if (!e.finished) continue;
      guard.finished();
      if (!ended_normally(e)) throw abnormal_end(e);
      const ResponseHeader header = new_response_header(request.endpoint, model_.id);
      const auto response =
          full_response(header, text, finish_reason_text(e.reason), Usage{e.prompt_tokens, e.completion_tokens, e.cached_tokens},
                        request.return_token_ids ? std::optional(token_ids) : std::nullopt,
                        request.logprobs ? LogprobsJson(request.endpoint, tok_).build(logged) : nlohmann::json());
      res.status = 200;
      res.set_content(to_wire(response), "application/json");
      return;
    }
  }
}

void CompletionEndpoint::respond_stream(const CompletionRequest& request, engine::GenerationRequest generation,
                                        httplib::Response& res) const {
  // Submitted before the headers go out, so that a full queue is still a plain 503 reply.
  auto state = std::make_shared<StreamState>(loop_, loop_.submit(std::move(generation)), open_responses_);
  state->header = new_response_header(request.endpoint, model_.id);
  state->include_usage = request.include_usage;
  state->return_token_ids = request.return_token_ids;
  if (request.logprobs) state->logprobs.emplace(request.endpoint, tok_);
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  // The provider owns the state; when httplib lets go of it (the response written, abandoned
  // after a failed write, or never started) a stream that did not reach its end cancels its
  // request through the guard.
  res.set_chunked_content_provider(kSseContentType, [state, &loop = loop_](size_t, httplib::DataSink& sink) {
    return pump_stream(*state, loop, sink);
  });
}

}  // namespace fathom::server
