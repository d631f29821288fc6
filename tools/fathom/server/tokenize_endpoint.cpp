#include "server/tokenize_endpoint.h"

#include <limits>
#include <vector>

#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/openai_request.h"

namespace fathom::server {

using nlohmann::json;

void TokenizeEndpoint::check_model(const json& request) const {
  const std::optional<std::string> model = JsonFields(request).string("model");
  if (model && !model_.matches(*model)) {
    throw ApiError(404, "invalid_request_error",
                   "the model '" + *model + "' does not exist; this server serves '" + model_.id + "'", "model",
                   "model_not_found");
  }
}

json TokenizeEndpoint::tokenize(std::string_view body) const {
  const json request = parse_json_object(body);
  check_model(request);
  const JsonFields fields(request);
  const json* messages = fields.find("messages");
  const json* prompt = fields.find("prompt");
  if ((messages != nullptr) == (prompt != nullptr)) {
    throw bad_request("give either 'prompt' (a string) or 'messages' (a conversation)", messages ? "messages" : "prompt");
  }
  std::vector<tokenizer::TokenId> ids;
  try {
    if (messages) {
      const bool generation_prompt = fields.boolean("add_generation_prompt").value_or(true);
      // The template writes BOS itself, so special tokens are not added again by default.
      const bool special = fields.boolean("add_special_tokens").value_or(false);
      const ChatTemplateInputs inputs = parse_chat_template_inputs(fields, body);
      ids = tok_.encode(render_chat_prompt(tok_, parse_chat_messages(*messages), inputs, generation_prompt), special);
    } else {
      if (!prompt->is_string()) throw bad_request("'prompt' must be a string, not " + json_kind(*prompt), "prompt");
      ids = tok_.encode(prompt->get<std::string>(), fields.boolean("add_special_tokens").value_or(true));
    }
  } catch (const ApiError&) {
    throw;
  } catch (const Error& e) {
    throw bad_request(e.what(), messages ? "messages" : "prompt");  // invalid UTF-8, a template failure
  }
  return {{"count", ids.size()}, {"max_model_len", max_model_len_}, {"tokens", ids}};
}

json TokenizeEndpoint::detokenize(std::string_view body) const {
  const json request = parse_json_object(body);
  check_model(request);
  const json* tokens = JsonFields(request).find("tokens");
  if (!tokens) throw bad_request("'tokens' is required", "tokens");
  if (!tokens->is_array()) throw bad_request("'tokens' must be a list of token ids", "tokens");
  std::vector<tokenizer::TokenId> ids;
  for (const json& id : *tokens) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      throw bad_request("'tokens' must hold non-negative integers, got " + id.dump(), "tokens");
    }
    ids.push_back(static_cast<tokenizer::TokenId>(id.get<int64_t>()));
  }
  try {
    return {{"prompt", tok_.decode(ids)}};
  } catch (const Error& e) {
    throw bad_request(e.what(), "tokens");  // an id no token has
  }
}

}  // namespace fathom::server
