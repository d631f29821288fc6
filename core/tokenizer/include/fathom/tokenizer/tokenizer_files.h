// Reading a model's tokenizer files into the tokenizer's parts.
//
// tokenizer.json (Hugging Face `tokenizers` format) gives the vocabulary, the
// merges, the added tokens and the pipeline; tokenizer_config.json
// (`transformers` format) gives BOS/EOS, whether to add them, and the chat
// template. Anything in the pipeline Fathom does not implement is refused with
// an `unsupported` error naming the field; malformed content is an
// `invalid_argument` error naming the file and the field.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "fathom/tokenizer/added_tokens.h"
#include "fathom/tokenizer/bpe_model.h"
#include "fathom/tokenizer/chat_template.h"
#include "fathom/tokenizer/pre_tokenizer.h"
#include "fathom/tokenizer/vocabulary.h"

namespace fathom::tokenizer {

// What tokenizer.json defines, checked and compiled.
struct TokenizerModel {
  Vocabulary vocabulary;
  BpeModel bpe;
  AddedVocabulary added_tokens;
  PreTokenizer pre_tokenizer;
};

// What tokenizer_config.json adds. All optional: defaults are "no BOS/EOS, add nothing, no template".
struct TokenizerConfig {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;  // only passed to the chat template, as transformers does
  std::optional<std::string> unk_token;
  bool add_bos_token = false;
  bool add_eos_token = false;
  std::optional<std::string> chat_template;
  std::string chat_template_origin;  // where the template came from, for error messages
};

// `file` names the source in error messages.
TokenizerModel parse_tokenizer_json(const nlohmann::json& root, const std::string& file);
TokenizerConfig parse_tokenizer_config(const nlohmann::json& root, const std::string& file);

struct TokenizerFiles {
  std::filesystem::path tokenizer_json;
  std::optional<std::filesystem::path> tokenizer_config;  // when present
  std::optional<std::filesystem::path> chat_template;     // chat_template.jinja, when present
};

// `path` is a model directory (which must hold tokenizer.json) or a
// tokenizer.json file; tokenizer_config.json and chat_template.jinja are taken
// from the same directory when they exist.
TokenizerFiles find_tokenizer_files(const std::filesystem::path& path);

}  // namespace fathom::tokenizer
