#include "server/logprobs_json.h"

#include <string>
#include <string_view>

namespace fathom::server {

namespace {

using nlohmann::json;

json byte_values(std::string_view bytes) {
  json out = json::array();
  for (char c : bytes) out.push_back(static_cast<unsigned char>(c));
  return out;
}

// Characters a token's bytes start: its UTF-8 lead bytes (a token that ends inside a character
// counts it; the token holding the rest of it adds none).
int64_t characters_started(std::string_view bytes) {
  int64_t n = 0;
  for (char c : bytes) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace

json LogprobsJson::chat_entry(const LoggedToken& t) const {
  const std::string_view bytes = tok_->token_bytes(t.token);
  json top = json::array();
  for (const engine::TokenLogprob& alt : t.logprobs.top) {
    const std::string_view alt_bytes = tok_->token_bytes(alt.token);
    top.push_back({{"token", std::string(alt_bytes)}, {"logprob", alt.logprob}, {"bytes", byte_values(alt_bytes)}});
  }
  return {{"token", std::string(bytes)}, {"logprob", t.logprobs.logprob}, {"bytes", byte_values(bytes)}, {"top_logprobs", top}};
}

void LogprobsJson::add_completion_entry(json& out, int32_t token, const engine::TokenLogprobs* logprobs) {
  const std::string_view bytes = tok_->token_bytes(token);
  out["tokens"].push_back(std::string(bytes));
  out["text_offset"].push_back(text_offset_);
  text_offset_ += characters_started(bytes);
  if (!logprobs) {
    out["token_logprobs"].push_back(nullptr);
    out["top_logprobs"].push_back(nullptr);
    return;
  }
  out["token_logprobs"].push_back(logprobs->logprob);
  // A map from text to log-probability: two ids that decode alike keep the likelier's.
  json top = json::object();
  for (const engine::TokenLogprob& alt : logprobs->top) {
    const std::string text(tok_->token_bytes(alt.token));
    if (!top.contains(text)) top[text] = alt.logprob;
  }
  out["top_logprobs"].push_back(top);
}

json LogprobsJson::build(const std::vector<LoggedToken>& tokens) {
  if (endpoint_ == Endpoint::chat_completions) {
    json content = json::array();
    for (const LoggedToken& t : tokens) content.push_back(chat_entry(t));
    return {{"content", content}};
  }
  json out = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (const LoggedToken& t : tokens) add_completion_entry(out, t.token, &t.logprobs);
  return out;
}

json LogprobsJson::build_prompt(std::span<const int32_t> prompt, const std::vector<engine::TokenLogprobs>& scored) {
  json out = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (size_t i = 0; i < prompt.size(); ++i) {
    add_completion_entry(out, prompt[i], i > 0 && i - 1 < scored.size() ? &scored[i - 1] : nullptr);
  }
  return out;
}

void LogprobsJson::append(json& into, const json& more) {
  if (into.is_null()) {
    into = more;
    return;
  }
  for (const auto& [key, values] : more.items()) {
    for (const json& v : values) into[key].push_back(v);
  }
}

}  // namespace fathom::server
