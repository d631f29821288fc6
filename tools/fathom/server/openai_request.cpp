#include "server/openai_request.h"

#include <limits>

#include <nlohmann/json.hpp>

#include "fathom/engine/json_schema_grammar.h"
#include "fathom/engine/text_grammar.h"
#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/strict_tool_calls.h"

namespace fathom::server {

namespace {

using nlohmann::json;
constexpr int64_t kMaxStopSequences = 4;  // as in the OpenAI API

}  // namespace

json parse_json_object(std::string_view body) {
  if (body.empty()) throw bad_request("the request body is empty: send a JSON object");
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) throw bad_request("the request body is not valid JSON");
  if (!parsed.is_object()) throw bad_request("the request body must be a JSON object, not " + json_kind(parsed));
  return parsed;
}

namespace {

// The roles DeepSeek's chat template renders. It silently drops any other, so a typo would
// lose a message without a word; OpenAI refuses unknown roles too.
void check_role(const json& message, const std::string& where) {
  auto role = message.find("role");
  if (role == message.end()) throw bad_request("'" + where + ".role' is required", "messages");
  if (!role->is_string()) throw bad_request("'" + where + ".role' must be a string, not " + json_kind(*role), "messages");
  const std::string r = role->get<std::string>();
  if (r != "system" && r != "user" && r != "assistant" && r != "tool") {
    throw bad_request("'" + where + ".role' is \"" + r + "\": expected \"system\", \"user\", \"assistant\" or \"tool\"",
                      "messages");
  }
}

// OpenAI lets `content` be a list of parts; text parts are joined (as vLLM does), anything else
// (images, audio) is refused. The chat template then sees plain strings.
json flatten_content_parts(const json& messages) {
  if (!messages.is_array()) throw bad_request("'messages' must be an array, not " + json_kind(messages), "messages");
  if (messages.empty()) throw bad_request("'messages' must not be empty", "messages");
  json flat = messages;
  for (size_t i = 0; i < flat.size(); ++i) {
    json& m = flat[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw bad_request("'" + where + "' must be an object, not " + json_kind(m), "messages");
    check_role(m, where);
    auto content = m.find("content");
    if (content == m.end() || !content->is_array()) continue;
    std::string text;
    for (size_t p = 0; p < content->size(); ++p) {
      const json& part = (*content)[p];
      const std::string part_where = where + ".content[" + std::to_string(p) + "]";
      if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") ||
          !part["text"].is_string()) {
        throw bad_request("'" + part_where + "': only text parts ({\"type\": \"text\", \"text\": ...}) are supported",
                          "messages");
      }
      if (p > 0) text += "\n";
      text += part["text"].get<std::string>();
    }
    *content = text;
  }
  return flat;
}

std::vector<std::string> parse_stop(const JsonFields& fields) {
  const json* v = fields.find("stop");
  if (!v) return {};
  std::vector<std::string> stop;
  if (v->is_string()) {
    stop.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    if (static_cast<int64_t>(v->size()) > kMaxStopSequences) {
      throw bad_request("'stop' holds at most " + std::to_string(kMaxStopSequences) + " sequences", "stop");
    }
    for (const json& s : *v) {
      if (!s.is_string()) throw bad_request("'stop' must be a string or a list of strings", "stop");
      stop.push_back(s.get<std::string>());
    }
  } else {
    throw bad_request("'stop' must be a string or a list of strings, not " + json_kind(*v), "stop");
  }
  for (const auto& s : stop) {
    if (s.empty()) throw bad_request("'stop' sequences must not be empty", "stop");
  }
  return stop;
}

// OpenAI's logit_bias: an object from token ids (as strings, JSON keys) to biases in [−100, 100].
std::vector<std::pair<int32_t, float>> parse_logit_bias(const JsonFields& fields) {
  const json* v = fields.find("logit_bias");
  if (!v) return {};
  if (!v->is_object()) throw bad_request("'logit_bias' must be an object from token ids to biases, not " + json_kind(*v), "logit_bias");
  std::vector<std::pair<int32_t, float>> out;
  for (const auto& [key, bias] : v->items()) {
    int64_t id = -1;
    const bool digits = !key.empty() && key.size() <= 10 && key.find_first_not_of("0123456789") == std::string::npos;
    if (digits) id = std::stoll(key);
    if (!digits || id > std::numeric_limits<int32_t>::max()) {
      throw bad_request("'logit_bias' keys must be token ids (non-negative integers as strings), got \"" + key + "\"", "logit_bias");
    }
    if (!bias.is_number() || bias.get<double>() < -100 || bias.get<double>() > 100) {
      throw bad_request("'logit_bias[\"" + key + "\"]' must be a number between -100 and 100", "logit_bias");
    }
    out.emplace_back(static_cast<int32_t>(id), bias.get<float>());
  }
  return out;
}

std::vector<int32_t> parse_stop_token_ids(const JsonFields& fields) {
  const json* v = fields.find("stop_token_ids");
  if (!v) return {};
  if (!v->is_array()) throw bad_request("'stop_token_ids' must be a list of token ids", "stop_token_ids");
  std::vector<int32_t> ids;
  for (const json& id : *v) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      throw bad_request("'stop_token_ids' must hold non-negative integers, got " + id.dump(), "stop_token_ids");
    }
    ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  return ids;
}

// The schema a structured-output field holds, taken from the body again with member order kept
// (it orders the generated members; the body's parse sorts them). `path`: where it is.
nlohmann::ordered_json ordered_schema(std::string_view body, const std::vector<std::string>& path) {
  nlohmann::ordered_json v = nlohmann::ordered_json::parse(body);  // parsed once already: valid
  for (const std::string& key : path) v = nlohmann::ordered_json(v[key]);
  return v;
}

// A grammar from a part of the request, its errors as 400s naming `field`.
template <typename Build>
std::shared_ptr<const engine::Grammar> request_grammar(const std::string& field, Build build) {
  try {
    return build();
  } catch (const Error& e) {
    const std::string message = e.what();
    throw bad_request(message.starts_with("'") ? message : "'" + field + "': " + message, field);
  }
}

std::shared_ptr<const engine::Grammar> schema_grammar(std::string_view body, const std::vector<std::string>& path,
                                                      const std::string& field) {
  return request_grammar(field, [&] { return engine::json_schema_grammar(ordered_schema(body, path)); });
}

std::shared_ptr<const engine::Grammar> regex_grammar(const json& pattern, const std::string& field) {
  if (!pattern.is_string()) throw bad_request("'" + field + "' must be a regular expression (a string)", field);
  return request_grammar(field, [&] { return engine::regex_grammar(pattern.get<std::string>(), field); });
}

std::shared_ptr<const engine::Grammar> gbnf_grammar(const json& text, const std::string& field) {
  if (!text.is_string()) throw bad_request("'" + field + "' must be a grammar in GBNF (a string)", field);
  return request_grammar(field, [&] { return engine::gbnf_grammar(text.get<std::string>(), field); });
}

std::shared_ptr<const engine::Grammar> choice_grammar(const json& choices, const std::string& field) {
  if (!choices.is_array() || !std::all_of(choices.begin(), choices.end(), [](const json& c) { return c.is_string(); })) {
    throw bad_request("'" + field + "' must be a list of strings", field);
  }
  return request_grammar(field, [&] { return engine::choice_grammar(choices.get<std::vector<std::string>>(), field); });
}

// response_format: "text" (the default), "json_object" (JSON mode) or "json_schema" (structured
// output: {"json_schema": {"name": ..., "schema": {...}, "strict": ...}}).
void parse_response_format(const json& v, std::string_view body, CompletionRequest& r) {
  if (!v.is_object() || !v.contains("type") || !v["type"].is_string()) {
    throw bad_request("'response_format' must be an object with a 'type'", "response_format");
  }
  const std::string type = v["type"].get<std::string>();
  if (type == "text") return;
  if (type == "json_object") {
    r.json_object = true;
    return;
  }
  if (type == "json_schema") {
    const auto spec = v.find("json_schema");
    if (spec == v.end() || !spec->is_object()) {
      throw bad_request("'response_format.json_schema' must be an object with the 'schema'", "response_format");
    }
    if (spec->contains("name") && !(*spec)["name"].is_string()) {
      throw bad_request("'response_format.json_schema.name' must be a string", "response_format");
    }
    if (!spec->contains("schema")) throw bad_request("'response_format.json_schema.schema' is required", "response_format");
    r.grammar = schema_grammar(body, {"response_format", "json_schema", "schema"}, "response_format");
    return;
  }
  throw bad_request("'response_format' type \"" + type + "\" is not supported: \"text\", \"json_object\" or \"json_schema\"",
                    "response_format");
}

// vLLM's structured_outputs: one of "json" (a schema, or its text), "regex", "choice", "grammar"
// (GBNF, as xgrammar reads vLLM's "EBNF") or "json_object": true. What Fathom does not generate
// for ("structural_tag", ...) is refused rather than ignored.
void parse_structured_outputs(const json& v, std::string_view body, CompletionRequest& r) {
  constexpr const char* kField = "structured_outputs";
  if (!v.is_object()) throw bad_request("'structured_outputs' must be an object", kField);
  std::string kind;
  for (const auto& [key, value] : v.items()) {
    if (value.is_null() || value == false) continue;
    if (key != "json" && key != "regex" && key != "choice" && key != "grammar" && key != "json_object") {
      throw bad_request("'structured_outputs." + key + "' is not supported: Fathom generates for \"json\", \"regex\", "
                        "\"choice\", \"grammar\" and \"json_object\"",
                        kField);
    }
    if (!kind.empty()) {
      throw bad_request("'structured_outputs' may give one of json, regex, choice, grammar and json_object", kField);
    }
    kind = key;
  }
  if (kind.empty()) return;
  const json& value = v[kind];
  if (kind == "json_object") {
    if (value != true) throw bad_request("'structured_outputs.json_object' must be true", kField);
    r.json_object = true;
  } else if (kind == "json") {
    if (value.is_string()) {
      r.grammar = request_grammar(kField, [&] { return engine::json_schema_grammar(std::string_view(value.get_ref<const std::string&>())); });
    } else if (value.is_object() || value.is_boolean()) {
      r.grammar = schema_grammar(body, {"structured_outputs", "json"}, kField);
    } else {
      throw bad_request("'structured_outputs.json' must be a JSON schema", kField);
    }
  } else if (kind == "regex") {
    r.grammar = regex_grammar(value, "structured_outputs.regex");
  } else if (kind == "grammar") {
    r.grammar = gbnf_grammar(value, "structured_outputs.grammar");
  } else {
    r.grammar = choice_grammar(value, "structured_outputs.choice");
  }
}

// Structured output, from at most one of: OpenAI's response_format, vLLM's structured_outputs,
// vLLM's older guided_json, guided_regex, guided_choice and guided_grammar, and llama.cpp's
// grammar (GBNF).
void parse_structured_output(const JsonFields& fields, std::string_view body, CompletionRequest& r) {
  const char* given = nullptr;
  for (const char* name :
       {"response_format", "structured_outputs", "guided_json", "guided_regex", "guided_choice", "guided_grammar", "grammar"}) {
    if (!fields.find(name)) continue;
    if (given) throw bad_request(std::string("'") + name + "' and '" + given + "' cannot both be given", name);
    given = name;
  }
  if (!given) return;
  const std::string field = given;
  const json& v = *fields.find(field);
  if (field == "response_format") {
    parse_response_format(v, body, r);
  } else if (field == "structured_outputs") {
    parse_structured_outputs(v, body, r);
  } else if (field == "guided_json") {
    if (!v.is_object() && !v.is_boolean()) throw bad_request("'guided_json' must be a JSON schema", "guided_json");
    r.grammar = schema_grammar(body, {"guided_json"}, "guided_json");
  } else if (field == "guided_regex") {
    r.grammar = regex_grammar(v, field);
  } else if (field == "guided_grammar" || field == "grammar") {
    r.grammar = gbnf_grammar(v, field);
  } else {
    r.grammar = choice_grammar(v, field);
  }
}

// Refuses a field whose given value asks for something Fathom does not do. `allowed` says which
// values are harmless (null is always harmless).
template <typename Allowed>
void refuse_unless(const JsonFields& fields, const std::string& name, Allowed allowed, const std::string& why) {
  const json* v = fields.find(name);
  if (v && !allowed(*v)) throw bad_request("'" + name + "' " + why, name);
}

bool is_empty_container(const json& v) { return (v.is_array() || v.is_object()) && v.empty(); }

// The fields both endpoints share.
void parse_common(const JsonFields& fields, std::string_view body, CompletionRequest& r) {
  r.model = fields.required_string("model");

  // max_completion_tokens is OpenAI's newer name; when both are given it wins.
  // 0 only for completions with echo (scoring a prompt); checked where the endpoint is known.
  r.max_tokens = fields.integer("max_tokens", 0, std::numeric_limits<int64_t>::max());
  if (auto m = fields.integer("max_completion_tokens", 1, std::numeric_limits<int64_t>::max())) r.max_tokens = m;

  SamplingOverrides& s = r.sampling;
  s.temperature = fields.number("temperature", 0.0, 2.0);
  s.top_p = fields.number("top_p", 0.0, 1.0);
  s.presence_penalty = fields.number("presence_penalty", -2.0, 2.0);
  s.frequency_penalty = fields.number("frequency_penalty", -2.0, 2.0);
  // Extensions that vLLM and llama.cpp accept too.
  s.min_p = fields.number("min_p", 0.0, 1.0);
  s.repetition_penalty = fields.number("repetition_penalty", 0.01, 100.0);
  if (auto k = fields.integer("top_k", -1, std::numeric_limits<int32_t>::max())) s.top_k = *k < 0 ? 0 : *k;  // -1 = off
  if (const json* seed = fields.find("seed")) {
    if (!seed->is_number_integer()) throw bad_request("'seed' must be an integer, not " + json_kind(*seed), "seed");
    // Any 64-bit integer is a seed; negative ones are reinterpreted, not refused.
    s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
  }

  r.n = fields.integer("n", 1, kMaxChoices).value_or(1);
  r.stop = parse_stop(fields);
  r.stream = fields.boolean("stream").value_or(false);
  if (const json* options = fields.find("stream_options")) {
    if (!options->is_object()) throw bad_request("'stream_options' must be an object", "stream_options");
    JsonFields stream_fields(*options);
    r.include_usage = stream_fields.boolean("include_usage").value_or(false);
    r.continuous_usage = stream_fields.boolean("continuous_usage_stats").value_or(false);
  }
  r.ignore_eos = fields.boolean("ignore_eos").value_or(false);
  parse_structured_output(fields, body, r);
  r.min_tokens = fields.integer("min_tokens", 0, std::numeric_limits<int64_t>::max()).value_or(0);
  r.stop_token_ids = parse_stop_token_ids(fields);
  s.logit_bias = parse_logit_bias(fields);
  r.return_token_ids = fields.boolean("return_token_ids").value_or(false);
  fields.string("user");  // allowed, unused; must still be a string

}

// One prompt: a string, or a non-empty list of token ids. `what` names it in errors.
CompletionPrompt parse_one_prompt(const json& p, const std::string& what) {
  if (p.is_string()) return {p.get<std::string>(), {}};
  if (!p.is_array()) throw bad_request(what + " must be a string or a list of token ids", "prompt");
  if (p.empty()) throw bad_request(what + " must not be empty", "prompt");
  CompletionPrompt prompt;
  for (const json& id : p) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      throw bad_request(what + " token ids must be non-negative integers, got " + id.dump(), "prompt");
    }
    prompt.ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  return prompt;
}

// `prompt`: a string or a list of token ids, or OpenAI's batch form, a list of strings or a list
// of token-id lists (each prompt gets its n choices).
void parse_prompt(const JsonFields& fields, CompletionRequest& r) {
  const json* p = fields.find("prompt");
  if (!p) throw bad_request("'prompt' is required", "prompt");
  const bool batch = p->is_array() && !p->empty() && ((*p)[0].is_string() || (*p)[0].is_array());
  if (!batch) {
    r.prompts.push_back(parse_one_prompt(*p, "'prompt'"));
    return;
  }
  const bool strings = (*p)[0].is_string();
  for (size_t i = 0; i < p->size(); ++i) {
    const json& one = (*p)[i];
    const std::string what = "'prompt[" + std::to_string(i) + "]'";
    if (one.is_string() != strings || (!one.is_string() && !one.is_array())) {
      throw bad_request(what + ": a list of prompts holds strings only or token-id lists only", "prompt");
    }
    r.prompts.push_back(parse_one_prompt(one, what));
  }
  if (static_cast<int64_t>(r.prompts.size()) * r.n > kMaxChoices) {
    throw bad_request("'prompt' holds " + std::to_string(r.prompts.size()) + " prompts with n = " + std::to_string(r.n) +
                          " choices each; one request may ask for " + std::to_string(kMaxChoices) + " choices at most",
                      "prompt");
  }
}

}  // namespace

std::vector<tokenizer::ChatMessage> parse_chat_messages(const json& messages) {
  try {
    return tokenizer::chat_messages_from_json(flatten_content_parts(messages), "messages");
  } catch (const ApiError&) {
    throw;
  } catch (const Error& e) {
    throw bad_request(e.what(), "messages");
  }
}

CompletionRequest parse_chat_completion_request(std::string_view body) {
  const json parsed = parse_json_object(body);
  JsonFields fields(parsed);
  CompletionRequest r;
  r.endpoint = Endpoint::chat_completions;
  parse_common(fields, body, r);

  const json* messages = fields.find("messages");
  if (!messages) throw bad_request("'messages' is required", "messages");
  r.messages = parse_chat_messages(*messages);
  if (r.max_tokens == 0) throw bad_request("'max_tokens' must be at least 1", "max_tokens");

  // OpenAI's chat form: logprobs is a switch, top_logprobs the number of alternatives.
  const std::optional<int64_t> top = fields.integer("top_logprobs", 0, kMaxTopLogprobs);
  if (fields.boolean("logprobs").value_or(false)) {
    r.logprobs = top.value_or(0);
  } else if (top) {
    throw bad_request("'top_logprobs' needs 'logprobs': true", "top_logprobs");
  }
  r.chat_inputs = parse_chat_template_inputs(fields, body);
  if (r.chat_inputs.forced) {
    // The calls are forced by a grammar of their own: it cannot also follow another.
    if (r.grammar || r.json_object) {
      throw bad_request("'tool_choice' that forces a call cannot be combined with other structured output "
                        "(response_format, structured_outputs, guided_*)",
                        "tool_choice");
    }
    r.grammar = forced_calls_grammar(*r.chat_inputs.forced, ordered_schema(body, {"tools"}));
  } else if (r.chat_inputs.has_tools && !r.chat_inputs.tool_choice_none) {
    // Strict tools the model may call: their grammar needs the chat template's call format, so it
    // is built with the prompt (generation_request.cpp).
    nlohmann::ordered_json tools = ordered_schema(body, {"tools"});
    if (any_strict_tool(tools)) {
      if (r.json_object) {
        throw bad_request("tools marked \"strict\" cannot be combined with response_format json_object: use a "
                          "json_schema, or strict false",
                          "tools");
      }
      r.strict_tools = std::move(tools);
    }
  }
  refuse_unless(fields, "functions", is_empty_container, "(the deprecated form of function calling) is not supported: use 'tools'");

  refuse_unless(fields, "audio", [](const json&) { return false; }, "is not supported");
  return r;
}

CompletionRequest parse_completion_request(std::string_view body) {
  const json parsed = parse_json_object(body);
  JsonFields fields(parsed);
  CompletionRequest r;
  r.endpoint = Endpoint::completions;
  parse_common(fields, body, r);
  parse_prompt(fields, r);

  // The legacy form: logprobs is the number of alternatives (0: the chosen tokens' only).
  r.logprobs = fields.integer("logprobs", 0, kMaxTopLogprobs);
  r.echo = fields.boolean("echo").value_or(false);
  if (r.max_tokens == 0 && !r.echo) {
    throw bad_request("'max_tokens' may be 0 only with 'echo': true (to score the prompt)", "max_tokens");
  }
  // best_of picks the n best of more samples; equal to n it asks for nothing more.
  refuse_unless(fields, "best_of", [&](const json& v) { return v == r.n; }, "other than n is not supported");
  refuse_unless(fields, "suffix", [](const json& v) { return v == ""; }, "is not supported");
  return r;
}

}  // namespace fathom::server
