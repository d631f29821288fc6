// tokenizer.json → TokenizerModel. Every check here names the file and the field.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>

#include "fathom/tokenizer/byte_level.h"
#include "fathom/tokenizer/json_field.h"
#include "fathom/tokenizer/tokenizer_files.h"

namespace fathom::tokenizer {

namespace {

// Ids must fit the tables (and stay clear of kNoToken).
constexpr std::int64_t kMaxTokenId = std::numeric_limits<std::int32_t>::max();

// The pattern of ByteLevel's own split (use_regex: true), GPT-2's.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string type_of(const JsonField& component) { return component["type"].string(); }

TokenId read_token_id(const JsonField& field) {
  const std::int64_t id = field.integer();
  if (id < 0 || id > kMaxTokenId) throw field.invalid("token id " + std::to_string(id) + " is out of range");
  return static_cast<TokenId>(id);
}

// The bytes the ByteLevel decoder turns a token's text into: its byte-level
// spelling decoded, or, when the text has characters outside the byte-level
// alphabet (DeepSeek's "<｜end▁of▁sentence｜>"), the text itself.
std::string decoded_bytes(const std::string& text) {
  auto bytes = byte_level::unspell(text);
  return bytes ? std::move(*bytes) : text;
}

// ---------------------------------------------------------------- normalizer

void check_normalizer(const JsonField& normalizer) {
  const std::string type = type_of(normalizer);
  if (type == "Sequence") {
    const JsonField list = normalizer["normalizers"];
    for (std::size_t i = 0; i < list.array().size(); ++i) check_normalizer(list.element(i));
    return;
  }
  throw normalizer.unsupported_here("normalizer type '" + type +
                                    "' is not supported (Fathom supports an empty normalizer Sequence)");
}

// ---------------------------------------------------------------- pre-tokenizer

UnicodeRegex read_split_pattern(const JsonField& pattern) {
  if (const auto regex = pattern.find("Regex")) {
    return UnicodeRegex(regex->string(), UnicodeRegex::Syntax::regex, regex->where());
  }
  if (const auto literal = pattern.find("String")) {
    return UnicodeRegex(literal->string(), UnicodeRegex::Syntax::literal, literal->where());
  }
  throw pattern.invalid("must hold \"Regex\" or \"String\"");
}

SplitBehavior read_split_behavior(const JsonField& behavior) {
  const std::string name = behavior.string();
  if (name == "Isolated") return SplitBehavior::isolated;
  if (name == "Removed") return SplitBehavior::removed;
  throw behavior.unsupported_here("Split behavior '" + name + "' is not supported (Fathom supports Isolated, Removed)");
}

struct PreTokenizerState {
  PreTokenizer pre_tokenizer;
  bool byte_level = false;
};

void read_pre_tokenizer(const JsonField& component, PreTokenizerState& state) {
  const std::string type = type_of(component);
  if (type == "Sequence") {
    const JsonField list = component["pretokenizers"];
    for (std::size_t i = 0; i < list.array().size(); ++i) read_pre_tokenizer(list.element(i), state);
    return;
  }
  if (state.byte_level) {
    // After ByteLevel the pieces are byte-level spellings, not text; no DeepSeek file does this.
    throw component.unsupported_here("pre-tokenizer '" + type + "' after ByteLevel is not supported");
  }
  if (type == "Split") {
    const auto invert = component.find("invert");
    state.pre_tokenizer.add_split({read_split_pattern(component["pattern"]), read_split_behavior(component["behavior"]),
                                   invert ? invert->boolean() : false});
    return;
  }
  if (type == "ByteLevel") {
    // Hugging Face's defaults for absent fields: add_prefix_space and use_regex are true.
    const auto add_prefix_space = component.find("add_prefix_space");
    if (!add_prefix_space || add_prefix_space->boolean()) {
      throw component.unsupported_here("ByteLevel with add_prefix_space=true is not supported");
    }
    const auto use_regex = component.find("use_regex");
    if (!use_regex || use_regex->boolean()) {
      state.pre_tokenizer.add_split(
          {UnicodeRegex(kGpt2Pattern, UnicodeRegex::Syntax::regex, component.where() + " (GPT-2 pattern)"),
           SplitBehavior::isolated, false});
    }
    state.byte_level = true;
    return;
  }
  throw component["type"].unsupported_here("pre-tokenizer type '" + type +
                                           "' is not supported (Fathom supports Sequence, Split, ByteLevel)");
}

// ---------------------------------------------------------------- decoder and post-processor

void check_decoder(const JsonField& decoder) {
  const std::string type = type_of(decoder);
  if (type != "ByteLevel") {
    throw decoder["type"].unsupported_here("decoder type '" + type + "' is not supported (Fathom supports ByteLevel)");
  }
}

void check_post_processor(const JsonField& post_processor) {
  // ByteLevel post-processing only trims offsets; ids pass unchanged. BOS/EOS
  // come from tokenizer_config.json, as transformers' LlamaTokenizerFast
  // (DeepSeek's tokenizer_class) rebuilds the post-processor from it.
  const std::string type = type_of(post_processor);
  if (type != "ByteLevel") {
    throw post_processor["type"].unsupported_here("post-processor type '" + type +
                                                  "' is not supported (Fathom supports ByteLevel)");
  }
}

// ---------------------------------------------------------------- model

struct ModelVocab {
  StringMap<TokenId> ids;  // byte-level spelling → id
  std::vector<VocabEntry> entries;
};

ModelVocab read_vocab(const JsonField& vocab) {
  ModelVocab result;
  result.ids.reserve(vocab.object().size());
  result.entries.reserve(vocab.object().size());
  for (const auto& [text, value] : vocab.object().items()) {
    const TokenId id = read_token_id(vocab.entry(text, value));
    result.ids.emplace(text, id);
    result.entries.push_back({id, text, decoded_bytes(text), false});
  }
  // Two spellings with one id would make decoding ambiguous.
  std::vector<std::pair<TokenId, const std::string*>> by_id;
  by_id.reserve(result.entries.size());
  for (const VocabEntry& entry : result.entries) by_id.emplace_back(entry.id, &entry.text);
  std::sort(by_id.begin(), by_id.end());
  for (std::size_t i = 1; i < by_id.size(); ++i) {
    if (by_id[i].first == by_id[i - 1].first) {
      throw vocab.invalid("'" + *by_id[i - 1].second + "' and '" + *by_id[i].second + "' have the same id " +
                          std::to_string(by_id[i].first));
    }
  }
  return result;
}

std::pair<std::string, std::string> read_merge_pair(const JsonField& merge) {
  // Two forms: "left right" (older files) or ["left", "right"].
  if (merge.is_string()) {
    const std::string text = merge.string();
    const std::size_t space = text.find(' ');
    if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
      throw merge.invalid("'" + text + "' is not two tokens separated by one space");
    }
    return {text.substr(0, space), text.substr(space + 1)};
  }
  if (merge.is_array() && merge.size() == 2) return {merge.element(0).string(), merge.element(1).string()};
  throw merge.invalid("a merge must be \"left right\" or [\"left\", \"right\"]");
}

MergeTable read_merges(const JsonField& merges, const StringMap<TokenId>& vocab) {
  auto id_of = [&](const JsonField& merge, const std::string& token, const char* role) {
    const auto it = vocab.find(token);
    if (it == vocab.end()) throw merge.invalid(std::string(role) + " token '" + token + "' is not in the vocabulary");
    return it->second;
  };
  const std::size_t count = merges.array().size();
  if (count >= std::numeric_limits<std::uint32_t>::max()) throw merges.invalid("too many merges");
  MergeTable table(count);
  for (std::size_t i = 0; i < count; ++i) {
    const JsonField merge = merges.element(i);
    const auto [left, right] = read_merge_pair(merge);
    const TokenId left_id = id_of(merge, left, "left");
    const TokenId right_id = id_of(merge, right, "right");
    const TokenId merged_id = id_of(merge, left + right, "merged");
    // As in Hugging Face, a pair listed twice keeps its later rank.
    table.insert(left_id, right_id, {static_cast<std::uint32_t>(i), merged_id});
  }
  return table;
}

void check_bpe_options(const JsonField& model) {
  if (const auto dropout = model.find("dropout")) {
    if (!dropout->json().is_number() || dropout->json().get<double>() != 0.0) {
      throw dropout->unsupported_here("BPE dropout is not supported (it makes encoding random)");
    }
  }
  if (const auto byte_fallback = model.find("byte_fallback"); byte_fallback && byte_fallback->boolean()) {
    throw byte_fallback->unsupported_here("byte_fallback is not supported (byte-level BPE needs none)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (const auto affix = model.find(key); affix && !affix->string().empty()) {
      throw affix->unsupported_here(std::string(key) + " is not supported");
    }
  }
}

BpeModel read_bpe_model(const JsonField& model, ModelVocab& vocab) {
  check_bpe_options(model);
  MergeTable merges = read_merges(model["merges"], vocab.ids);

  std::array<TokenId, 256> byte_tokens{};
  for (unsigned b = 0; b < 256; ++b) {
    const std::string spelling = byte_level::spell(std::string(1, static_cast<char>(b)));
    const auto it = vocab.ids.find(spelling);
    if (it != vocab.ids.end()) {
      byte_tokens[b] = it->second;
      continue;
    }
    // 0xC0, 0xC1 and 0xF5-0xFF occur in no valid UTF-8 text, which is all an encode takes (it
    // checks first), so a vocabulary may leave them out: DeepSeek-V2's (DeepSeek LLM's) does.
    if (b == 0xC0 || b == 0xC1 || b >= 0xF5) {
      byte_tokens[b] = kNoToken;
      continue;
    }
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", b);
    throw model["vocab"].invalid(std::string("no token for byte ") + hex + " (written '" + spelling +
                                 "'); byte-level BPE needs one for every byte that UTF-8 text can hold");
  }

  StringMap<TokenId> whole_words;
  if (const auto ignore_merges = model.find("ignore_merges"); ignore_merges && ignore_merges->boolean()) {
    for (const VocabEntry& entry : vocab.entries) {
      if (auto bytes = byte_level::unspell(entry.text)) whole_words.emplace(std::move(*bytes), entry.id);
    }
  }
  return BpeModel(byte_tokens, std::move(merges), std::move(whole_words));
}

// ---------------------------------------------------------------- added tokens

std::vector<AddedToken> read_added_tokens(const JsonField& list) {
  std::vector<AddedToken> tokens;
  for (std::size_t i = 0; i < list.array().size(); ++i) {
    const JsonField token = list.element(i);
    AddedToken added;
    added.id = read_token_id(token["id"]);
    added.content = token["content"].string();
    if (added.content.empty()) throw token["content"].invalid("an added token cannot be empty");
    const auto special = token.find("special");
    added.special = special ? special->boolean() : false;
    const auto normalized = token.find("normalized");
    added.normalized = normalized ? normalized->boolean() : !added.special;  // Hugging Face's default
    for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
      if (const auto value = token.find(flag); value && value->boolean()) {
        throw value->unsupported_here(std::string(flag) + "=true is not supported");
      }
    }
    tokens.push_back(std::move(added));
  }
  return tokens;
}

}  // namespace

TokenizerModel parse_tokenizer_json(const nlohmann::json& json, const std::string& file) {
  const JsonField root(json, file);
  root.object();
  for (const char* key : {"truncation", "padding"}) {
    if (const auto setting = root.find(key)) {
      throw setting->unsupported_here(std::string(key) + " is not supported; leave it null (Fathom never " +
                                      (std::string(key) == "padding" ? "pads" : "truncates") + " when tokenizing)");
    }
  }
  if (const auto normalizer = root.find("normalizer")) check_normalizer(*normalizer);

  PreTokenizerState pre;
  if (const auto pre_tokenizer = root.find("pre_tokenizer")) read_pre_tokenizer(*pre_tokenizer, pre);
  if (!pre.byte_level) {
    throw unsupported(file + ": pre_tokenizer: no ByteLevel step; Fathom implements byte-level BPE only");
  }
  if (const auto decoder = root.find("decoder")) {
    check_decoder(*decoder);
  } else {
    throw unsupported(file + ": decoder: missing; Fathom decodes byte-level tokens (decoder ByteLevel)");
  }
  if (const auto post_processor = root.find("post_processor")) check_post_processor(*post_processor);

  const JsonField model = root["model"];
  const auto model_type = model.find("type");
  // Files from before `type` existed are BPE when they have merges.
  const std::string type = model_type ? model_type->string() : (model.find("merges") ? "BPE" : "");
  if (type.empty()) throw model.invalid("type: missing");
  if (type != "BPE") {
    throw model["type"].unsupported_here("model type '" + type + "' is not supported (Fathom supports BPE)");
  }
  ModelVocab vocab = read_vocab(model["vocab"]);
  BpeModel bpe = read_bpe_model(model, vocab);

  std::vector<AddedToken> added;
  if (const auto list = root.find("added_tokens")) added = read_added_tokens(*list);

  std::vector<VocabEntry> entries = std::move(vocab.entries);
  for (const AddedToken& token : added) {
    entries.push_back({token.id, token.content, decoded_bytes(token.content), token.special});
  }
  return TokenizerModel{Vocabulary(entries), std::move(bpe), AddedVocabulary(std::move(added)),
                        std::move(pre.pre_tokenizer)};
}

}  // namespace fathom::tokenizer
