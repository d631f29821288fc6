// Parity with Hugging Face `tokenizers` on the shared corpus and edge cases:
// exact ids (add_special_tokens=false), decode(encode(text)) == text, and
// streaming decode one id at a time.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fathom/core/error.h"
#include "fathom/tokenizer/stream_decoder.h"
#include "fathom/tokenizer/utf8.h"
#include "test_support.h"

namespace fathom::tokenizer {
namespace {

using testing::deepseek_v3;
using testing::read_jsonl;

class ParityTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::vector<nlohmann::json> lines() const { return read_jsonl(testing::kTokenizerData / GetParam()); }
};

TEST_P(ParityTest, IdsMatchEveryLine) {
  const auto lines = this->lines();
  ASSERT_FALSE(lines.empty());
  std::size_t exact = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto text = lines[i]["text"].get<std::string>();
    const auto expected = lines[i]["ids"].get<std::vector<TokenId>>();
    const auto ids = deepseek_v3().encode(text);
    EXPECT_EQ(ids, expected) << GetParam() << " line " << i + 1 << ": " << text.substr(0, 80);
    exact += ids == expected;
  }
  std::printf("[ parity   ] %s: %zu/%zu lines exact\n", GetParam(), exact, lines.size());
}

TEST_P(ParityTest, DecodeRestoresText) {
  for (const auto& line : lines()) {
    const auto text = line["text"].get<std::string>();
    EXPECT_EQ(deepseek_v3().decode(deepseek_v3().encode(text)), text);
  }
}

TEST_P(ParityTest, StreamingOneIdAtATimeRestoresText) {
  for (const auto& line : lines()) {
    const auto text = line["text"].get<std::string>();
    StreamDecoder stream = deepseek_v3().stream_decoder();
    std::string streamed;
    for (const TokenId id : deepseek_v3().encode(text)) {
      const std::string chunk = stream.push(id);
      EXPECT_TRUE(utf8::is_valid(chunk)) << "a chunk split a character: " << text.substr(0, 80);
      streamed += chunk;
    }
    EXPECT_EQ(stream.pending_bytes(), 0u);
    streamed += stream.finish();
    EXPECT_EQ(streamed, text);
  }
}

std::string file_stem(const ::testing::TestParamInfo<const char*>& param_info) {
  const std::string file = param_info.param;
  return file.substr(0, file.find('.'));
}

INSTANTIATE_TEST_SUITE_P(SharedTestdata, ParityTest, ::testing::Values("corpus.jsonl", "edge_cases.jsonl"), file_stem);

TEST(Tokenizer, SpecialTokenIdsComeFromTokenizerJson) {
  const Tokenizer& tok = deepseek_v3();
  EXPECT_EQ(tok.bos_id(), 0u);
  EXPECT_EQ(tok.eos_id(), 1u);
  EXPECT_EQ(tok.token_to_id("<｜User｜>"), 128803u);
  EXPECT_EQ(tok.token_to_id("<｜Assistant｜>"), 128804u);
  // In V3 these ids are placeholders; <think>/</think> (128798/128799 in the
  // spec) are DeepSeek-V3.1/R1 tokens, and V3 spells "<think>" with BPE.
  EXPECT_EQ(tok.id_to_token(128798), "<｜place▁holder▁no▁798｜>");
  EXPECT_EQ(tok.token_to_id("<think>"), std::nullopt);
  EXPECT_EQ(tok.token_to_id("<｜tool▁sep｜>"), 128814u);
  EXPECT_EQ(tok.id_limit(), 128815u);
  EXPECT_EQ(tok.id_to_token(223), "Ġ");
  EXPECT_EQ(tok.token_bytes(223), " ");
}

TEST(Tokenizer, AddSpecialTokensPrependsBosOnly) {
  // tokenizer_config.json: add_bos_token true, add_eos_token false.
  const auto plain = deepseek_v3().encode("Hello");
  const auto with_special = deepseek_v3().encode("Hello", true);
  ASSERT_EQ(with_special.size(), plain.size() + 1);
  EXPECT_EQ(with_special.front(), 0u);
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), with_special.begin() + 1));
  EXPECT_EQ(deepseek_v3().encode("", true), std::vector<TokenId>{0});
}

TEST(Tokenizer, SpecialTokensInTextAreSplitOutWhole) {
  const auto ids = deepseek_v3().encode("a<｜end▁of▁sentence｜>b<｜User｜>");
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids[1], 1u);
  EXPECT_EQ(ids[3], 128803u);
}

TEST(Tokenizer, DecodeSkipsSpecialTokensOnRequest) {
  const auto ids = deepseek_v3().encode("<｜begin▁of▁sentence｜>Hi<｜end▁of▁sentence｜>");
  EXPECT_EQ(deepseek_v3().decode(ids), "<｜begin▁of▁sentence｜>Hi<｜end▁of▁sentence｜>");
  EXPECT_EQ(deepseek_v3().decode(ids, /*skip_special_tokens=*/true), "Hi");
  // <｜User｜> is an added token but not a special one: it stays.
  EXPECT_EQ(deepseek_v3().decode(deepseek_v3().encode("<｜User｜>x"), true), "<｜User｜>x");
}

TEST(Tokenizer, RejectsInvalidUtf8AndUnknownIds) {
  try {
    deepseek_v3().encode("ok\xC3(");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("byte offset 2"), std::string::npos) << e.what();
  }
  const std::vector<TokenId> unknown = {128900};
  EXPECT_THROW(deepseek_v3().decode(unknown), Error);
}

TEST(Tokenizer, LongInputsAcrossTheMergePaths) {
  // A CJK run is one pre-token piece: long pieces take the heap merge path.
  std::string cjk;
  for (int i = 0; i < 400; ++i) cjk += "深度求索人工智能";
  std::string spaces(100000, ' ');
  for (const std::string& text : {cjk, spaces, spaces + "x", std::string(5000, '7')}) {
    EXPECT_EQ(deepseek_v3().decode(deepseek_v3().encode(text)), text);
  }
}

TEST(Tokenizer, CopiesShareStateAndEncodeConcurrently) {
  const Tokenizer copy = deepseek_v3();
  const auto lines = read_jsonl(testing::kTokenizerData / "corpus.jsonl");
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = t; i < lines.size(); i += 2) {
        if (copy.encode(lines[i]["text"].get<std::string>()) != lines[i]["ids"].get<std::vector<TokenId>>()) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace fathom::tokenizer
