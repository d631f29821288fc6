#include "tiny_tokenizer.h"

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"
#include "fathom/tokenizer/byte_level.h"
#include "fathom/tokenizer/deepseek_pre_tokenizer.h"

namespace fathom::tools {

namespace {

const char* const kChatTemplate =
#include "deepseek_v3_chat_template.inc"
    ;

nlohmann::json added_token(int64_t id, const std::string& content, bool special) {
  return {{"id", id},          {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},   {"normalized", false}, {"special", special}};
}

void write_json(const std::filesystem::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  if (!out) throw io_error("cannot write '" + path.string() + "'");
  out << j.dump(2) << "\n";
}

}  // namespace

TinyTokenizerInfo write_tiny_tokenizer(const std::filesystem::path& dir) {
  const std::string bos = "<｜begin▁of▁sentence｜>", eos = "<｜end▁of▁sentence｜>";
  nlohmann::json added = nlohmann::json::array();
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  int64_t next = 0;
  for (const std::string& special : {bos, eos, std::string("<｜▁pad▁｜>")}) {
    added.push_back(added_token(next, special, true));
    vocab[special] = next++;
  }
  std::vector<int64_t> printable;
  for (int b = 0; b < 256; ++b) {
    if (b >= 0x20 && b <= 0x7E) printable.push_back(next);
    vocab[tokenizer::byte_level::spell(std::string(1, static_cast<char>(b)))] = next++;
  }
  // The chat-format markers, as DeepSeek-V3 declares them (added, not special).
  for (const char* marker : {"<｜User｜>", "<｜Assistant｜>", "<think>", "</think>", "<｜tool▁calls▁begin｜>",
                             "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>",
                             "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>", "<｜tool▁output▁begin｜>",
                             "<｜tool▁output▁end｜>", "<｜tool▁sep｜>"}) {
    added.push_back(added_token(next, marker, false));
    vocab[marker] = next++;
  }

  nlohmann::json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", nlohmann::json::array()}}},
      {"pre_tokenizer", tokenizer::deepseek_v3_pre_tokenizer()},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab},
        {"merges", nlohmann::json::array()}}}};
  write_json(dir / "tokenizer.json", tokenizer);

  auto token_entry = [](const std::string& content) {
    return nlohmann::json{{"__type", "AddedToken"}, {"content", content}, {"lstrip", false},
                          {"normalized", true},     {"rstrip", false},    {"single_word", false}};
  };
  nlohmann::json config = {{"add_bos_token", true},
                           {"add_eos_token", false},
                           {"bos_token", token_entry(bos)},
                           {"eos_token", token_entry(eos)},
                           {"pad_token", token_entry(eos)},
                           {"clean_up_tokenization_spaces", false},
                           {"legacy", true},
                           {"model_max_length", 16384},
                           {"tokenizer_class", "LlamaTokenizerFast"},
                           {"unk_token", nullptr},
                           {"chat_template", kChatTemplate}};
  write_json(dir / "tokenizer_config.json", config);
  return TinyTokenizerInfo{next, 0, 1, printable};
}

}  // namespace fathom::tools
