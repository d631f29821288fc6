// Broken or unsupported tokenizer files give errors that name the file and the field.
#include <gtest/gtest.h>

#include <fstream>

#include "fathom/core/error.h"
#include "fathom/tokenizer/byte_level.h"
#include "fathom/tokenizer/json_field.h"
#include "test_support.h"

namespace fathom::tokenizer {
namespace {

using nlohmann::json;

// The smallest tokenizer.json DeepSeek's pipeline accepts: the 256 byte
// tokens, "ab" and "abc" with their merges, one added token.
json minimal_tokenizer_json() {
  json vocab = json::object();
  for (unsigned b = 0; b < 256; ++b) vocab[byte_level::spell(std::string(1, static_cast<char>(b)))] = b;
  vocab["ab"] = 256;
  vocab["abc"] = 257;
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", json::array({{{"id", 258}, {"content", "<eos>"}, {"special", true}, {"normalized", false},
                                     {"lstrip", false}, {"rstrip", false}, {"single_word", false}}})},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", json::array()}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers", json::array({{{"type", "Split"}, {"pattern", {{"Regex", "\\s+|\\S+"}}},
                                        {"behavior", "Isolated"}, {"invert", false}},
                                       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}}},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"byte_fallback", false},
                 {"vocab", vocab}, {"merges", json::array({"a b", "ab c"})}}},
  };
}

std::filesystem::path write_model(const std::string& name, const std::string& tokenizer_json,
                                  const std::string* config_json = nullptr) {
  const auto dir = testing::make_temp_dir(name);
  std::ofstream(dir / "tokenizer.json") << tokenizer_json;
  if (config_json) std::ofstream(dir / "tokenizer_config.json") << *config_json;
  return dir;
}

// Loading fails with `code` and a message containing `fragment`.
void expect_load_error(const std::filesystem::path& path, ErrorCode code, const std::string& fragment) {
  try {
    Tokenizer::load(path);
    FAIL() << "loaded " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

void expect_json_error(const std::string& name, const json& tokenizer_json, ErrorCode code, const std::string& fragment) {
  expect_load_error(write_model(name, tokenizer_json.dump()), code, fragment);
}

TEST(MalformedFiles, TheMinimalTokenizerLoadsAndWorks) {
  const Tokenizer tok = Tokenizer::load(write_model("minimal", minimal_tokenizer_json().dump()));
  EXPECT_EQ(tok.encode("abc ab<eos>"), (std::vector<TokenId>{257, ' ', 256, 258}));
  EXPECT_EQ(tok.decode(tok.encode("abc ab<eos>")), "abc ab<eos>");
  EXPECT_FALSE(tok.has_chat_template());
  EXPECT_EQ(tok.bos_id(), std::nullopt);
  // Also by file path instead of directory.
  const auto dir = write_model("by-file", minimal_tokenizer_json().dump());
  EXPECT_EQ(Tokenizer::load(dir / "tokenizer.json").encode("ab"), std::vector<TokenId>{256});
}

TEST(MalformedFiles, OptionalPipelineFeatures) {
  // ignore_merges: a piece that is itself a token is taken whole.
  json j = minimal_tokenizer_json();
  j["model"]["vocab"]["ac"] = 259;
  j["model"]["ignore_merges"] = true;
  EXPECT_EQ(Tokenizer::load(write_model("ignore-merges", j.dump())).encode("ac abc"),
            (std::vector<TokenId>{259, ' ', 257}));

  // ByteLevel use_regex: GPT-2's split runs first, so "b1" cannot merge across "ab|1".
  j = minimal_tokenizer_json();
  j["model"]["vocab"]["b1"] = 259;
  j["model"]["merges"] = json::array({"b 1", "a b", "ab c"});
  EXPECT_EQ(Tokenizer::load(write_model("split-b1", j.dump())).encode("ab1"), (std::vector<TokenId>{'a', 259}));
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  EXPECT_EQ(Tokenizer::load(write_model("gpt2-split", j.dump())).encode("ab1"), (std::vector<TokenId>{256, '1'}));
}

TEST(MalformedFiles, ChatTemplateFromItsOwnFile) {
  const std::string v3_template =
      read_json_file((testing::kModelDir / "tokenizer_config.json").string())["chat_template"].get<std::string>();
  const std::string config = R"({"bos_token": "<eos>"})";
  const auto dir = write_model("jinja", minimal_tokenizer_json().dump(), &config);
  std::ofstream(dir / "chat_template.jinja") << v3_template;
  const Tokenizer tok = Tokenizer::load(dir);
  std::vector<ChatMessage> messages(1);
  messages[0].role = "user";
  messages[0].content = "hi";
  EXPECT_EQ(tok.render_chat(messages, true), "<eos><｜User｜>hi<｜Assistant｜>");

  // A template using Jinja Fathom does not run: tokenization works, rendering says why not.
  std::ofstream(dir / "chat_template.jinja") << "{% macro turn(m) %}{{ m }}{% endmacro %}";
  try {
    Tokenizer::load(dir).render_chat(messages, true);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported);
    EXPECT_NE(std::string(e.what()).find("chat_template.jinja:1:4: the 'macro' statement is not supported"),
              std::string::npos)
        << e.what();
  }
}

TEST(MalformedFiles, BadJson) {
  expect_load_error(write_model("bad-json", "{\"model\": {"), ErrorCode::invalid_argument,
                    "tokenizer.json: not valid JSON");
}

TEST(MalformedFiles, NumberOutOfRange) {
  // nlohmann reports this as out_of_range, not as a parse error (found by the gguf_file fuzz target).
  expect_load_error(write_model("huge-number", "{\"version\": 1e400}"), ErrorCode::invalid_argument,
                    "tokenizer.json: not valid JSON");
}

TEST(MalformedFiles, MissingModel) {
  json j = minimal_tokenizer_json();
  j.erase("model");
  expect_json_error("no-model", j, ErrorCode::invalid_argument, "tokenizer.json: model: missing");
}

TEST(MalformedFiles, UnknownModelType) {
  json j = minimal_tokenizer_json();
  j["model"]["type"] = "WordPiece";
  expect_json_error("wordpiece", j, ErrorCode::unsupported,
                    "tokenizer.json: model.type: model type 'WordPiece' is not supported");
}

TEST(MalformedFiles, MergeOfUnknownToken) {
  json j = minimal_tokenizer_json();
  j["model"]["merges"].push_back("x zz");
  expect_json_error("merge-unknown", j, ErrorCode::invalid_argument,
                    "tokenizer.json: model.merges[2]: right token 'zz' is not in the vocabulary");
}

TEST(MalformedFiles, MergeWhoseResultIsNotAToken) {
  json j = minimal_tokenizer_json();
  j["model"]["merges"].push_back(json::array({"b", "c"}));
  expect_json_error("merge-result", j, ErrorCode::invalid_argument,
                    "tokenizer.json: model.merges[2]: merged token 'bc' is not in the vocabulary");
}

TEST(MalformedFiles, MalformedMergeEntry) {
  json j = minimal_tokenizer_json();
  j["model"]["merges"][1] = "abc";
  expect_json_error("merge-shape", j, ErrorCode::invalid_argument,
                    "tokenizer.json: model.merges[1]: 'abc' is not two tokens separated by one space");
}

TEST(MalformedFiles, BadVocabularyIds) {
  json j = minimal_tokenizer_json();
  j["model"]["vocab"]["ab"] = -4;
  expect_json_error("negative-id", j, ErrorCode::invalid_argument, "tokenizer.json: model.vocab['ab']: token id -4");
  j["model"]["vocab"]["ab"] = "256";
  expect_json_error("string-id", j, ErrorCode::invalid_argument,
                    "tokenizer.json: model.vocab['ab']: must be an integer");
  j["model"]["vocab"]["ab"] = 257;
  expect_json_error("duplicate-id", j, ErrorCode::invalid_argument, "have the same id 257");
}

TEST(MalformedFiles, MissingByteToken) {
  json j = minimal_tokenizer_json();
  j["model"]["vocab"].erase("Ċ");
  expect_json_error("no-newline", j, ErrorCode::invalid_argument,
                    "tokenizer.json: model.vocab: no token for byte 0x0A (written 'Ċ')");
}

// The bytes no UTF-8 text holds (0xC0, 0xC1, 0xF5-0xFF) may have no token, as in DeepSeek-V2's
// vocabulary: every input is checked to be UTF-8 before it is encoded.
TEST(MalformedFiles, BytesNoUtf8TextHoldsMayHaveNoToken) {
  json j = minimal_tokenizer_json();
  for (const unsigned b : {0xC0u, 0xC1u, 0xF5u, 0xFFu}) {
    j["model"]["vocab"].erase(byte_level::spell(std::string(1, static_cast<char>(b))));
  }
  const Tokenizer tok = Tokenizer::load(write_model("no-invalid-bytes", j.dump()));
  const std::string text = "h\xC3\xA9llo \xF0\x9F\x98\x80";  // two- and four-byte characters
  EXPECT_EQ(tok.decode(tok.encode(text)), text);
  try {
    static_cast<void>(tok.encode("\xC0\x80"));  // such a byte never reaches the model
    FAIL() << "encoded text that is not UTF-8";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument) << e.what();
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
  }
}

TEST(MalformedFiles, UnsupportedComponentsAreNamed) {
  json j = minimal_tokenizer_json();
  j["normalizer"] = {{"type", "NFKC"}};
  expect_json_error("nfkc", j, ErrorCode::unsupported, "tokenizer.json: normalizer: normalizer type 'NFKC'");

  j = minimal_tokenizer_json();
  j["pre_tokenizer"]["pretokenizers"][0] = {{"type", "Whitespace"}};
  expect_json_error("whitespace", j, ErrorCode::unsupported,
                    "tokenizer.json: pre_tokenizer.pretokenizers[0].type: pre-tokenizer type 'Whitespace'");

  j = minimal_tokenizer_json();
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "MergedWithNext";
  expect_json_error("merged-with-next", j, ErrorCode::unsupported,
                    "tokenizer.json: pre_tokenizer.pretokenizers[0].behavior: Split behavior 'MergedWithNext'");

  j = minimal_tokenizer_json();
  j["decoder"] = {{"type", "WordPiece"}};
  expect_json_error("decoder", j, ErrorCode::unsupported, "tokenizer.json: decoder.type: decoder type 'WordPiece'");

  j = minimal_tokenizer_json();
  j["post_processor"] = {{"type", "TemplateProcessing"}};
  expect_json_error("post", j, ErrorCode::unsupported, "post_processor.type: post-processor type 'TemplateProcessing'");

  j = minimal_tokenizer_json();
  j["model"]["byte_fallback"] = true;
  expect_json_error("byte-fallback", j, ErrorCode::unsupported, "tokenizer.json: model.byte_fallback");

  j = minimal_tokenizer_json();
  j["added_tokens"][0]["lstrip"] = true;
  expect_json_error("lstrip", j, ErrorCode::unsupported, "tokenizer.json: added_tokens[0].lstrip: lstrip=true");

  j = minimal_tokenizer_json();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", " "}}}, {"behavior", "Isolated"}};
  expect_json_error("no-byte-level", j, ErrorCode::unsupported, "no ByteLevel step");

  j = minimal_tokenizer_json();
  j["truncation"] = {{"max_length", 5}};
  expect_json_error("truncation", j, ErrorCode::unsupported, "tokenizer.json: truncation");
}

TEST(MalformedFiles, BadPattern) {
  json j = minimal_tokenizer_json();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "[\\p{L}";
  expect_json_error("bad-regex", j, ErrorCode::invalid_argument,
                    "tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex: cannot compile pattern");
}

TEST(MalformedFiles, MissingFiles) {
  const auto empty = testing::make_temp_dir("empty");
  expect_load_error(empty, ErrorCode::not_found, "no tokenizer.json in this directory");
  expect_load_error(empty / "nowhere", ErrorCode::not_found, "no such file or directory");
}

TEST(MalformedFiles, ConfigErrorsNameTheConfig) {
  const std::string tokenizer = minimal_tokenizer_json().dump();
  std::string config = R"({"bos_token": "<s>", "add_bos_token": true})";
  expect_load_error(write_model("bos-unknown", tokenizer, &config), ErrorCode::invalid_argument,
                    "tokenizer_config.json: bos_token: '<s>' is not a token of tokenizer.json");
  config = R"({"bos_token": {"content": "<eos>"}, "add_bos_token": "yes"})";
  expect_load_error(write_model("bos-flag", tokenizer, &config), ErrorCode::invalid_argument,
                    "tokenizer_config.json: add_bos_token: must be true or false");
  config = "{bad";
  expect_load_error(write_model("config-json", tokenizer, &config), ErrorCode::invalid_argument,
                    "tokenizer_config.json: not valid JSON");
}

TEST(MalformedFiles, UnrunnableChatTemplateFailsOnlyWhenRendering) {
  const std::string config =
      R"({"eos_token": "<eos>", "add_eos_token": true, "chat_template": "{% for m in messages %}{{ m | frobnicate }}{% endfor %}"})";
  const Tokenizer tok = Tokenizer::load(write_model("other-template", minimal_tokenizer_json().dump(), &config));
  EXPECT_EQ(tok.encode("ab", true), (std::vector<TokenId>{256, 258}));
  try {
    tok.render_chat({}, true);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported);
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json: chat_template:1:31: filter 'frobnicate' is not supported"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fathom::tokenizer
