#include "server/completion_endpoint.h"

#include <httplib.h>

#include <memory>
#include <optional>
#include <thread>

#include "fathom/core/logging.h"
#include "server/api_error.h"
#include "server/choice_requests.h"
#include "server/client_connection.h"
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

// A whole chat reply split into reasoning, content and tool calls.
void split_reply(ReplyReader reader, bool reasoning_parsed, Choice& choice) {
  ReplyParts parts = reader.feed(choice.text);
  const ReplyParser::Final rest = reader.finish();
  const std::string content = parts.content + rest.rest.content;
  const std::string reasoning = parts.reasoning + rest.rest.reasoning;
  for (const ToolCallDelta& piece : rest.rest.calls) append_call_piece(parts.calls, piece);
  if (reasoning_parsed) choice.reasoning = reasoning;
  choice.null_content = content.empty() && (!reasoning.empty() || rest.called);
  choice.text = content;
  choice.finish_reason = finish_reason_with_calls(choice.finish_reason, rest.called);
  choice.tool_calls = join_call_deltas(parts.calls);
}

bool ended_normally(const engine::TokenEvent& e) {
  return e.reason == engine::FinishReason::stop || e.reason == engine::FinishReason::length;
}

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

// The usage of a response over its choices: each prompt counted once (as OpenAI does), the
// completions added up; cached tokens are each prompt's first choice's, to go with the prompt counted.
void add_usage(Usage& usage, const engine::TokenEvent& finished, const ChoiceRequests& choices, size_t index) {
  usage.completion_tokens += finished.completion_tokens;
  if (!choices.first_of_its_prompt(index)) return;
  usage.prompt_tokens += finished.prompt_tokens;
  usage.cached_tokens += finished.cached_tokens;
}

// The state of one SSE response across calls of httplib's content provider (all on the same
// HTTP thread).
struct StreamState {
  StreamState(EngineLoop& loop, const std::vector<engine::GenerationRequest>& requests, int64_t n,
              std::atomic<int64_t>& open_responses)
      : open(open_responses), choices(loop, requests, n) {}

  OpenResponse open;  // until httplib lets go of the stream
  ChoiceRequests choices;
  ResponseHeader header;
  bool include_usage = false;
  bool continuous_usage = false;      // every chunk carries its choice's usage so far
  std::vector<int64_t> completion;    // per choice: tokens so far (continuous_usage)
  std::vector<int64_t> prompt_tokens;  // per prompt
  bool return_token_ids = false;
  std::vector<LogprobsJson> logprobs;  // per choice, when asked for: every token gets a chunk that carries them
  std::vector<ReplyReader> readers;    // per choice, when replies are split (reasoning, tool calls)
  // Completions with echo: each choice's first chunk is its prompt (and its logprobs).
  bool echo = false;
  std::vector<std::vector<int32_t>> prompts;  // per prompt
  std::vector<std::string> echo_texts;        // per prompt
  std::vector<bool> echoed;                   // per choice
  Usage usage;
  bool opened = false;  // the first chunks are out
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
  bool chunk(ChunkContent content) {
    if (state_.continuous_usage) {
      const auto index = static_cast<size_t>(content.index);
      content.usage = Usage{state_.prompt_tokens[state_.choices.prompt_of(index)], state_.completion[index], 0};
    }
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

// Writes what one engine event means for the stream. Returns false to abort the response.
bool stream_event(StreamState& s, StreamWriter& out, const engine::TokenEvent& e) {
  const size_t index = s.choices.index_of(e.request);
  if (s.continuous_usage) s.completion[index] = std::max(s.completion[index], e.completion_tokens);
  if (e.finished && !ended_normally(e)) {
    s.choices.finished(index);
    return out.error_and_end(abnormal_end(e));
  }
  if (s.echo && !s.echoed[index]) {
    s.echoed[index] = true;
    ChunkContent prompt;
    prompt.index = static_cast<int64_t>(index);
    const size_t p = s.choices.prompt_of(index);
    prompt.text = s.echo_texts[p];
    if (!s.logprobs.empty()) prompt.logprobs = s.logprobs[index].build_prompt(s.prompts[p], e.prompt_logprobs);
    if (!out.chunk(prompt)) return false;
  }
  const bool with_logprobs = !s.logprobs.empty() && e.token && e.logprobs;
  ReplyParts parts = s.readers.empty() ? ReplyParts{{}, e.text, {}} : s.readers[index].feed(e.text);
  if (!parts.content.empty() || !parts.reasoning.empty() || !parts.calls.empty() || (e.token && s.return_token_ids) ||
      with_logprobs) {
    ChunkContent content;
    content.index = static_cast<int64_t>(index);
    content.text = std::move(parts.content);
    content.reasoning = std::move(parts.reasoning);
    content.tool_calls = std::move(parts.calls);
    if (s.return_token_ids) content.token_ids = e.token ? std::vector<int32_t>{*e.token} : std::vector<int32_t>{};
    if (with_logprobs) content.logprobs = s.logprobs[index].build({{*e.token, *e.logprobs}});
    if (!out.chunk(content)) return false;
  }
  if (!e.finished) return true;
  s.choices.finished(index);
  add_usage(s.usage, e, s.choices, index);
  ChunkContent last;
  last.index = static_cast<int64_t>(index);
  last.finish_reason = finish_reason_text(e.reason);
  if (!s.readers.empty()) {
    // What the reader held back (a tail that might have begun a marker; a forced reply that made
    // no call).
    ReplyParser::Final rest = s.readers[index].finish();
    last.text = std::move(rest.rest.content);
    last.reasoning = std::move(rest.rest.reasoning);
    last.tool_calls = std::move(rest.rest.calls);
    last.finish_reason = finish_reason_with_calls(*last.finish_reason, rest.called);
  }
  if (!out.chunk(last)) return false;
  if (!s.choices.all_finished()) return true;
  if (s.include_usage && !out.write(sse_event(to_wire(usage_chunk(s.header, s.usage))))) return false;
  return out.end();
}

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
      for (size_t i = 0; i < s.choices.size(); ++i) {
        ChunkContent opening;
        opening.index = static_cast<int64_t>(i);
        opening.first = true;
        if (!out.chunk(opening)) return false;
      }
    }
  }
  if (!s.choices.events().wait_for(s.batch, kPoll)) {
    if (loop.unavailable()) return out.error_and_end(shutting_down());
    if (Clock::now() - s.last_write >= CompletionEndpoint::kHeartbeat) return out.write(sse_comment("waiting"));
    return true;
  }
  try {
    for (const engine::TokenEvent& e : s.batch) {
      if (!stream_event(s, out, e)) return false;
      if (s.ended) return true;
    }
  } catch (const std::exception& e) {  // nothing may escape into httplib's writer thread
    log().error("stream failed: {}", e.what());
    return out.error_and_end(ApiError(500, "server_error", std::string("internal error: ") + e.what()));
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

void CompletionEndpoint::handle(Endpoint endpoint, const std::string& body, httplib::Response& res,
                                const httplib::Request* http_request) const {
  OpenResponse open(open_responses_);
  try {
    CompletionRequest request = endpoint == Endpoint::chat_completions ? parse_chat_completion_request(body)
                                                                       : parse_completion_request(body);
    if (!model_.matches(request.model)) {
      throw ApiError(404, "invalid_request_error",
                     "the model '" + request.model + "' does not exist; this server serves '" + model_.id + "'",
                     "model", "model_not_found");
    }
    std::vector<engine::GenerationRequest> prompts = build_generation_requests(request, tok_, defaults_);
    // Chat has one prompt, and only chat replies carry reasoning.
    const Reasoning reasoning = reply_reasoning(request, prompts.front().prompt);
    // A reply that starts inside its reasoning gets its structured output (JSON mode, a schema,
    // forced calls) after "</think>": the reasoning stays the model's own. (Strict calls the model
    // may make start at their own marker, after any reasoning.)
    for (engine::GenerationRequest& generation : prompts) {
      if (reasoning == Reasoning::open && (generation.grammar || generation.json_object) &&
          generation.structured_after.empty()) {
        generation.structured_after = std::string(kThinkClose);
      }
    }
    if (request.stream) {
      respond_stream(request, prompts, reasoning, res);
    } else {
      respond_whole(request, prompts, reasoning, res, http_request);
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

Reasoning CompletionEndpoint::reply_reasoning(const CompletionRequest& request, std::span<const int32_t> prompt) const {
  if (request.endpoint != Endpoint::chat_completions || !defaults_.parse_reasoning) return Reasoning::none;
  const size_t tail = std::min<size_t>(prompt.size(), 16);  // "<think>\n" may be several tokens
  std::string end = tok_.decode(std::vector<tokenizer::TokenId>(prompt.end() - static_cast<std::ptrdiff_t>(tail), prompt.end()));
  while (!end.empty() && (end.back() == '\n' || end.back() == ' ')) end.pop_back();
  return end.ends_with(kThinkOpen) ? Reasoning::open : Reasoning::if_opened;
}

std::optional<ReplyReader> CompletionEndpoint::reply_reader(const CompletionRequest& request, Reasoning reasoning) const {
  if (request.endpoint != Endpoint::chat_completions) return std::nullopt;
  const ChatTemplateInputs& inputs = request.chat_inputs;
  // Forced calls are read from the content by the grammar's format, not from DeepSeek's markers.
  const bool marked_calls = inputs.has_tools && !inputs.tool_choice_none && !inputs.forced;
  std::optional<ReplyParser> parser;
  if (reasoning != Reasoning::none || marked_calls) parser.emplace(reasoning, marked_calls);
  if (!parser && !inputs.forced) return std::nullopt;
  return ReplyReader(std::move(parser), inputs.forced);
}

// The prompt as the model saw it: decoded from its tokens, special tokens (BOS) included, so that
// the text and the logprobs' text offsets agree.
std::string CompletionEndpoint::echoed_prompt(std::span<const int32_t> prompt) const {
  return tok_.decode(std::vector<tokenizer::TokenId>(prompt.begin(), prompt.end()));
}

void CompletionEndpoint::respond_whole(const CompletionRequest& request,
                                       const std::vector<engine::GenerationRequest>& prompts, Reasoning reasoning,
                                       httplib::Response& res, const httplib::Request* http_request) const {
  ChoiceRequests choices(loop_, prompts, request.n);
  // Nothing is written until the reply is whole, so the connection is watched instead.
  const std::optional<ClientConnection> client = http_request ? ClientConnection::of(*http_request) : std::nullopt;
  struct Collected {
    std::string text;
    std::vector<int32_t> token_ids;
    std::vector<LoggedToken> logged;
    std::vector<engine::TokenLogprobs> prompt_scored;  // echo with logprobs
    std::string finish_reason;
  };
  std::vector<Collected> collected(choices.size());
  Usage usage;
  std::vector<engine::TokenEvent> batch;
  while (!choices.all_finished()) {
    const bool woken = choices.events().wait_for(batch, kPoll);
    if (client && client->gone()) {  // one poll(2) per wake-up: a step's events, or kPoll
      // Returning cancels the unfinished choices (ChoiceRequests); the reply would go nowhere.
      log().info("client {}:{} closed the connection: request cancelled", http_request->remote_addr,
                 http_request->remote_port);
      res.status = 499;
      return;
    }
    if (!woken) {
      if (loop_.unavailable()) throw shutting_down();
      continue;
    }
    for (const engine::TokenEvent& e : batch) {
      const size_t index = choices.index_of(e.request);
      Collected& c = collected[index];
      if (!e.prompt_logprobs.empty()) c.prompt_scored = e.prompt_logprobs;
      c.text += e.text;
      if (e.token) c.token_ids.push_back(*e.token);
      if (e.token && e.logprobs) c.logged.push_back({*e.token, *e.logprobs});
      if (!e.finished) continue;
      choices.finished(index);
      if (!ended_normally(e)) throw abnormal_end(e);  // the other choices are cancelled
      c.finish_reason = finish_reason_text(e.reason);
      add_usage(usage, e, choices, index);
    }
  }
  const std::optional<ReplyReader> reader = reply_reader(request, reasoning);
  std::vector<Choice> out;
  for (size_t index = 0; index < collected.size(); ++index) {
    Collected& c = collected[index];
    const std::vector<int32_t>& prompt = prompts[choices.prompt_of(index)].prompt;
    nlohmann::json logprobs;
    if (request.logprobs) {
      LogprobsJson builder(request.endpoint, tok_);
      if (request.echo) logprobs = builder.build_prompt(prompt, c.prompt_scored);
      LogprobsJson::append(logprobs, builder.build(c.logged));
    }
    Choice choice;
    choice.text = (request.echo ? echoed_prompt(prompt) : std::string()) + c.text;
    choice.finish_reason = c.finish_reason;
    if (request.return_token_ids) choice.token_ids = std::move(c.token_ids);
    choice.logprobs = std::move(logprobs);
    if (reader) split_reply(*reader, defaults_.parse_reasoning, choice);
    out.push_back(std::move(choice));
  }
  res.status = 200;
  res.set_content(to_wire(full_response(new_response_header(request.endpoint, model_.id), out, usage)),
                  "application/json");
}

void CompletionEndpoint::respond_stream(const CompletionRequest& request,
                                        const std::vector<engine::GenerationRequest>& prompts, Reasoning reasoning,
                                        httplib::Response& res) const {
  // Submitted before the headers go out, so that a full queue is still a plain 503 reply.
  auto state = std::make_shared<StreamState>(loop_, prompts, request.n, open_responses_);
  state->header = new_response_header(request.endpoint, model_.id);
  state->include_usage = request.include_usage;
  state->continuous_usage = request.continuous_usage;
  state->completion.assign(state->choices.size(), 0);
  for (const engine::GenerationRequest& p : prompts) state->prompt_tokens.push_back(static_cast<int64_t>(p.prompt.size()));
  state->return_token_ids = request.return_token_ids;
  if (request.logprobs) state->logprobs.resize(state->choices.size(), LogprobsJson(request.endpoint, tok_));
  if (const std::optional<ReplyReader> reader = reply_reader(request, reasoning)) {
    state->readers.assign(state->choices.size(), *reader);
  }
  if (request.echo) {
    state->echo = true;
    for (const engine::GenerationRequest& p : prompts) {
      state->prompts.push_back(p.prompt);
      state->echo_texts.push_back(echoed_prompt(p.prompt));
    }
    state->echoed.assign(state->choices.size(), false);
  }
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  // The provider owns the state; when httplib lets go of it (the response written, abandoned
  // after a failed write, or never started) a stream that did not reach its end cancels its
  // choices.
  res.set_chunked_content_provider(kSseContentType, [state, &loop = loop_](size_t, httplib::DataSink& sink) {
    return pump_stream(*state, loop, sink);
  });
}

}  // namespace fathom::server
