// POST /tokenize and POST /detokenize, as vLLM's server has them: how many tokens a prompt or a
// conversation costs under the served model's tokenizer (and chat template), and the text of
// token ids. Nothing runs on the engine.
//
//   /tokenize    {"prompt": "...", "add_special_tokens": true}
//             or {"messages": [...], "add_generation_prompt": true}
//             →  {"count", "max_model_len", "tokens"}
//   /detokenize  {"tokens": [ids]}  →  {"prompt": "..."}
//
// "model" is optional; when given it must name the served model (404 otherwise).
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fathom/tokenizer/tokenizer.h"
#include "server/served_model.h"

namespace fathom::server {

class TokenizeEndpoint {
 public:
  TokenizeEndpoint(const tokenizer::Tokenizer& tok, ServedModel model, int64_t max_model_len)
      : tok_(tok), model_(std::move(model)), max_model_len_(max_model_len) {}

  // Both throw ApiError (400 for a bad body, 404 for another model).
  nlohmann::json tokenize(std::string_view body) const;
  nlohmann::json detokenize(std::string_view body) const;

 private:
  void check_model(const nlohmann::json& request) const;

  const tokenizer::Tokenizer& tok_;
  ServedModel model_;
  int64_t max_model_len_;
};

}  // namespace fathom::server
