// The tokenizer a GGUF file carries (tokenizer.ggml.*), as the tokenizer.json and
// tokenizer_config.json it was converted from, so that it runs through the same parser and checks.
//
// llama.cpp's converter lists every id's token text and type, the BPE merges, the special ids and
// the chat template, and names the pre-tokenizer instead of stating it. What it does not keep is
// Hugging Face's `special` flag: every added token that is special *or looks special* ("<｜...｜>")
// becomes CONTROL. DeepSeek's chat markers ("<｜User｜>", "<｜tool▁sep｜>", ...) are added but not
// special in Hugging Face, and structured output and tool calls rely on that (special tokens are
// never generated inside a grammar). They are recovered by one rule: a CONTROL token the chat
// template writes itself is a marker of the conversation, not special, except the BOS, EOS,
// padding and unknown tokens. For DeepSeek-V3 and R1 this gives Hugging Face's flag for every id
// (tests/gguf checks it against the tokenizer.json) but the three fill-in-the-middle markers,
// not special there and not in the template: they come out special.
#include "fathom/tokenizer/gguf_tokenizer.h"

#include <set>
#include <string>

#include "fathom/core/error.h"
#include "fathom/model/gguf_split.h"
#include "fathom/tokenizer/deepseek_pre_tokenizer.h"
#include "fathom/tokenizer/tokenizer_files.h"

namespace fathom::tokenizer {
namespace {

using nlohmann::json;
using model::GgufFile;
using model::GgufType;
using model::GgufValue;

// llama.cpp's token types.
constexpr std::int64_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6;

json pre_tokenizer_named(const GgufFile& file, std::string_view name) {
  if (name == "deepseek-v3") return deepseek_v3_pre_tokenizer();
  if (name == "deepseek-llm") return deepseek_llm_pre_tokenizer();
  throw unsupported(file.where("tokenizer.ggml.pre") + ": '" + std::string(name) +
                    "' is not supported (Fathom reads DeepSeek-V3's 'deepseek-v3' and DeepSeek-V2's 'deepseek-llm'; for "
                    "another tokenizer, load the Hugging Face model directory's tokenizer.json)");
}

std::optional<std::string> token_at(const GgufFile& file, const std::vector<GgufValue>& tokens, std::string_view key) {
  const auto id = file.optional_integer(key);
  if (!id) return std::nullopt;
  if (*id < 0 || static_cast<std::size_t>(*id) >= tokens.size()) {
    throw invalid_argument(file.where(key) + ": id " + std::to_string(*id) + " is not a token (there are " +
                           std::to_string(tokens.size()) + ")");
  }
  return std::string(tokens[static_cast<std::size_t>(*id)].string);
}

std::vector<std::int64_t> token_types(const GgufFile& file, std::size_t count) {
  const GgufValue* v = file.find("tokenizer.ggml.token_type");
  if (!v) throw invalid_argument(file.where("tokenizer.ggml.token_type") + ": missing");
  if (v->type != GgufType::array || v->array.size() != count) {
    throw invalid_argument(file.where("tokenizer.ggml.token_type") + ": must be an array of one integer per token (" +
                           std::to_string(count) + ")");
  }
  std::vector<std::int64_t> types;
  for (const GgufValue& t : v->array) {
    if (!t.is_integer()) throw invalid_argument(file.where("tokenizer.ggml.token_type") + ": must hold integers");
    types.push_back(t.integer);
  }
  return types;
}

TokenizerModel model_from_metadata(const GgufFile& file, const TokenizerConfig& config) {
  const std::string_view kind = file.string("tokenizer.ggml.model");
  if (kind != "gpt2") {
    throw unsupported(file.where("tokenizer.ggml.model") + ": '" + std::string(kind) +
                      "' is not supported (Fathom reads byte-level BPE, 'gpt2', as DeepSeek's tokenizers are)");
  }
  const auto* tokens = file.optional_array("tokenizer.ggml.tokens", GgufType::string);
  if (!tokens) throw invalid_argument(file.where("tokenizer.ggml.tokens") + ": missing");
  const std::vector<std::int64_t> types = token_types(file, tokens->size());
  const auto* merges = file.optional_array("tokenizer.ggml.merges", GgufType::string);

  std::set<std::string> always_special;
  for (const auto* token : {&config.bos_token, &config.eos_token, &config.pad_token, &config.unk_token}) {
    if (*token) always_special.insert(**token);
  }
  const std::string_view chat_template = config.chat_template ? std::string_view(*config.chat_template) : "";

  json vocab = json::object();
  json added = json::array();
  for (std::size_t id = 0; id < tokens->size(); ++id) {
    const std::string text((*tokens)[id].string);
    switch (types[id]) {
      case kNormal: case kByte: case kUnknown:
        vocab[text] = id;
        break;
      case kControl: case kUserDefined: {
        const bool marker = chat_template.find(text) != std::string_view::npos && !always_special.contains(text);
        const bool special = types[id] == kControl && !marker;
        added.push_back({{"id", id}, {"content", text}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                         {"normalized", !special}, {"special", special}});
        break;
      }
      case kUnused:  // padding ids up to the embedding's size: no token has them
        break;
      default:
        throw invalid_argument(file.where("tokenizer.ggml.token_type") + ": token " + std::to_string(id) +
                               " has unknown type " + std::to_string(types[id]));
    }
  }
  json merge_list = json::array();
  if (merges) {
    for (const GgufValue& m : *merges) merge_list.push_back(std::string(m.string));
  }
  const json root = {
      {"added_tokens", added},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", json::array()}}},
      {"pre_tokenizer", pre_tokenizer_named(file, file.optional_string("tokenizer.ggml.pre").value_or("default"))},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab},
                 {"merges", merge_list}}}};
  return parse_tokenizer_json(root, file.path().string() + " (tokenizer.ggml.*)");
}

}  // namespace

Tokenizer load_gguf_tokenizer(const std::filesystem::path& path) {
  const auto metadata = model::open_gguf_metadata(path);  // the first part of a split model
  const GgufFile& file = *metadata;
  const std::string source = file.path().string();
  TokenizerConfig config;
  if (const auto chat_template = file.optional_string("tokenizer.chat_template")) {
    config.chat_template = std::string(*chat_template);
    config.chat_template_origin = source + ": tokenizer.chat_template";
  }
  config.add_bos_token = file.optional_bool("tokenizer.ggml.add_bos_token").value_or(false);
  config.add_eos_token = file.optional_bool("tokenizer.ggml.add_eos_token").value_or(false);

  const auto* tokens = file.optional_array("tokenizer.ggml.tokens", GgufType::string);
  if (!tokens) throw not_found(source + ": no tokenizer.ggml.tokens (the GGUF file carries no tokenizer)");
  config.bos_token = token_at(file, *tokens, "tokenizer.ggml.bos_token_id");
  config.eos_token = token_at(file, *tokens, "tokenizer.ggml.eos_token_id");
  config.pad_token = token_at(file, *tokens, "tokenizer.ggml.padding_token_id");
  config.unk_token = token_at(file, *tokens, "tokenizer.ggml.unknown_token_id");
  return Tokenizer(model_from_metadata(file, config), config, source);
}

}  // namespace fathom::tokenizer
