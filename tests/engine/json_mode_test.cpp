// JSON mode: the byte-level JSON prefix recogniser (RFC 8259 validity, checked on hand-picked
// texts here and against nlohmann::json's parser by the json_prefix fuzz target), the token
// filter built on it, and the engine generating under it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "fathom/engine/json_prefix.h"
#include "fathom/engine/json_token_filter.h"
#include "fathom/tokenizer/tokenizer.h"
#include "json_oracle.h"

namespace fathom::engine {
namespace {

// Fed whole: whether every byte was accepted, and whether the text is then complete.
struct Verdict {
  bool accepted;
  bool complete;
};
Verdict read(std::string_view text) {
  JsonPrefix p;
  const bool ok = p.feed(text);
  return {ok, ok && p.complete()};
}

TEST(JsonPrefix, AcceptsValidObjectsAndEveryPrefixOfThem) {
  for (const std::string text : {
           "{}", R"({"a":1})", R"({"a":[1,2.5e-3,-0,0.5E+7,true,false,null,{"b":"x\u00e9\n\"\\\/"}],"":{}})",
           "{ \"a\" :\t[ 1 ,\r\n 2 ] }", "{\"caf\xC3\xA9\":\"\xF0\x9D\x84\x9E\xE2\x82\xAC\"}", R"({"a":[[],[[]],{}]})",
           R"({"n":-12.25e10})"}) {
    ASSERT_TRUE(nlohmann_verdict(text).whole) << "not JSON to nlohmann either: " << text;
    JsonPrefix p;
    for (size_t i = 0; i < text.size(); ++i) {
      ASSERT_TRUE(p.feed(static_cast<uint8_t>(text[i]))) << text << ": byte " << i;
      EXPECT_EQ(p.complete(), i + 1 == text.size()) << text << ": byte " << i;
    }
  }
}

TEST(JsonPrefix, RefusesWhatJsonDoesNot) {
  for (const std::string text : {
           "[1]", "\"a\"", "1", " []",  // JSON mode: an object at the top
           R"({"a":01})", R"({"a":1,})", "{,}", R"({"a" 1})", R"({"a":tru })", R"({"a":nul})", R"({a:1})",
           "{\"a\":\"\x01\"}", R"({"a":"\q"})", R"({"a":"\u12G4"})", R"({"a":-})", R"({"a":1.})", R"({"a":1.e5})",
           R"({"a":1e})", R"({"a":1e+})", R"({"a":.5})", R"({"a":+1})", R"({"a":[1}})", R"({"a":{]})", "{}}", "{} ",
           "{}x", R"({"a":1]})",
           "{\"\xC0\x80\":1}",          // overlong
           "{\"\xED\xA0\x80\":1}",      // a surrogate
           "{\"\xF5\x80\x80\x80\":1}",  // above U+10FFFF
           "{\"\xE2\x82\":1}",          // cut short
           "{\"\x80\":1}"}) {           // a stray continuation byte
    EXPECT_FALSE(read(text).accepted && read(text).complete) << text;
    // Refused at some byte (not merely incomplete), except where the text is a valid prefix.
  }
  EXPECT_FALSE(read(R"({"a":1.})").complete);
  EXPECT_FALSE(read("{\"a\":\"\x01").accepted);
  EXPECT_FALSE(read("[").accepted);
  EXPECT_FALSE(read("{} ").accepted) << "nothing follows the object";
}

TEST(JsonPrefix, LimitsWhitespaceRunsAndDepth) {
  EXPECT_TRUE(read("{" + std::string(JsonPrefix::kMaxWhitespaceRun, ' ') + "}").complete);
  EXPECT_FALSE(read("{" + std::string(JsonPrefix::kMaxWhitespaceRun + 1, ' ')).accepted);
  std::string deep = "{\"a\":";
  for (int i = 1; i < JsonPrefix::kMaxDepth; ++i) deep += "[";
  EXPECT_TRUE(read(deep).accepted);
  EXPECT_FALSE(read(deep + "[").accepted);
  EXPECT_FALSE(read(deep + "{").accepted);
}

TEST(JsonPrefix, SurrogateEscapesPair) {
  EXPECT_TRUE(read(R"({"a":"\ud834\udd1e x \uD7FF\uE000"})").complete);
  EXPECT_TRUE(nlohmann_verdict(R"({"a":"\ud834\udd1e x \uD7FF\uE000"})").whole);
  for (const std::string bad : {R"({"a":"\udd1e)", R"({"a":"\ud834")", R"({"a":"\ud834x)", R"({"a":"\ud834\n)",
                                R"({"a":"\ud834\u0041)", R"({"a":"\ud834\ud834)"}) {
    EXPECT_FALSE(read(bad).accepted) << bad;
    EXPECT_FALSE(nlohmann_verdict(bad).prefix) << "nlohmann::json accepts it: " << bad;
  }
}

TEST(JsonPrefix, NumbersStayWithinADouble) {
  EXPECT_TRUE(read(R"({"a":)" + std::string(JsonPrefix::kMaxIntegerDigits, '9') + ".5e-99}").complete);
  EXPECT_FALSE(read(R"({"a":)" + std::string(JsonPrefix::kMaxIntegerDigits + 1, '9')).accepted);
  EXPECT_FALSE(read(R"({"a":1e100)").accepted);
  EXPECT_TRUE(read(R"({"a":-1.000000000000000000000000001E+07})").complete) << "fraction digits are not limited";
}

TEST(JsonPrefix, EqualStatesHashAlike) {
  JsonPrefix a, b;
  ASSERT_TRUE(a.feed(R"({"x":"abc)"));
  ASSERT_TRUE(b.feed(R"({"longer key":"z)"));
  EXPECT_EQ(a, b) << "both inside a value string at depth 1";
  EXPECT_EQ(a.hash(), b.hash());
  JsonPrefix c;
  ASSERT_TRUE(c.feed(R"({"x":[)"));
  EXPECT_NE(a, c);
}

TEST(JsonTokenFilter, AllowsWhatKeepsAJsonPrefixAndEndsAfterTheObject) {
  //                        0     1     2       3     4     5     6      7      8        9 (no token)  10 (EOS)
  const std::vector<std::string> vocab = {"{", "}", "\"a\"", ":", "1", " ", "[1]", "x}", "{\"b", "", "</s>"};
  JsonTokenFilter filter(vocab);
  const std::vector<int32_t> eos = {10};
  auto allowed = [&](std::string_view so_far) {
    JsonPrefix state;
    EXPECT_TRUE(state.feed(so_far)) << so_far;
    std::vector<float> logits(vocab.size(), 1.0f);
    const size_t kept = filter.mask(state, logits, eos);
    std::vector<int32_t> ids;
    for (size_t i = 0; i < logits.size(); ++i) {
      if (std::isfinite(logits[i])) ids.push_back(static_cast<int32_t>(i));
    }
    EXPECT_EQ(kept, ids.size());
    return ids;
  };
  EXPECT_EQ(allowed(""), (std::vector<int32_t>{0, 5, 8}));  // the object's '{', or whitespace before it
  EXPECT_EQ(allowed("{"), (std::vector<int32_t>{1, 2, 5}));
  EXPECT_EQ(allowed("{\"a\""), (std::vector<int32_t>{3, 5}));
  EXPECT_EQ(allowed("{\"a\":"), (std::vector<int32_t>{0, 2, 4, 5, 6, 8}));
  EXPECT_EQ(allowed("{\"a\":\""), (std::vector<int32_t>{0, 1, 3, 4, 5, 6, 7}))
      << "inside a string: not {\"b (the quote ends the string, then 'b' cannot follow), not the no-token id, "
         "and not </s>, which reads as text but is end-of-sequence";
  EXPECT_EQ(allowed("{}"), (std::vector<int32_t>{10})) << "after the object only end-of-sequence";
  EXPECT_EQ(filter.bytes(2), "\"a\"");
  EXPECT_GT(filter.cached_states(), 0u);
}

// With DeepSeek-V3's real vocabulary (byte-level BPE, 129,280 ids): a JSON text as the tokenizer
// encodes it passes the mask token by token, characters split across tokens included (the
// filter must see each token's raw bytes), and the special tokens never pass.
TEST(JsonTokenFilter, DeepSeekV3VocabularyPassesJsonAsTheTokenizerEncodesIt) {
  const auto tok = tokenizer::Tokenizer::load(std::filesystem::path(FATHOM_SHARED_DIR) / "models" / "deepseek-v3-tokenizer");
  constexpr size_t kVocab = 129280;
  JsonTokenFilter filter = JsonTokenFilter::from_tokenizer(tok, kVocab);
  const std::vector<int32_t> eos = {static_cast<int32_t>(*tok.eos_id())};
  const std::string text = "{\"name\": \"caf\xC3\xA9 \xF0\x9F\xA6\x99 \xE4\xBD\xA0\xE5\xA5\xBD\", \"n\": [1, -2.5e3, true, null]}";
  ASSERT_TRUE(nlohmann_verdict(text).whole);
  const auto ids = tok.encode(text, false);
  ASSERT_GT(ids.size(), 10u);
  JsonPrefix state;
  std::vector<float> logits(kVocab);
  bool split_character = false;
  for (const auto id : ids) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    filter.mask(state, logits, eos);
    ASSERT_TRUE(std::isfinite(logits[id])) << "token " << id << " ('" << tok.token_bytes(id) << "') was masked";
    EXPECT_FALSE(std::isfinite(logits[eos[0]])) << "end-of-sequence before the object closed";
    ASSERT_TRUE(state.feed(filter.bytes(static_cast<int32_t>(id))));
    const std::string_view bytes = filter.bytes(static_cast<int32_t>(id));
    split_character |= !bytes.empty() && (static_cast<unsigned char>(bytes.back()) & 0xC0) == 0xC0;  // ends on a lead byte
    split_character |= !bytes.empty() && (static_cast<unsigned char>(bytes.front()) & 0xC0) == 0x80;  // starts mid-character
  }
  EXPECT_TRUE(state.complete());
  EXPECT_TRUE(split_character) << "no token split a character: pick a text that exercises it";
  std::fill(logits.begin(), logits.end(), 0.0f);
  EXPECT_EQ(filter.mask(state, logits, eos), 1u) << "after the object only end-of-sequence";
  EXPECT_TRUE(std::isfinite(logits[eos[0]]));
  // Special tokens never pass, not even inside a string, where their text would read as content.
  ASSERT_TRUE(tok.is_special(*tok.bos_id()) && tok.is_special(*tok.eos_id()));
  JsonPrefix in_string;
  ASSERT_TRUE(in_string.feed(std::string_view("{\"a\":\"")));
  std::fill(logits.begin(), logits.end(), 0.0f);
  filter.mask(in_string, logits, eos);
  for (const auto special : {*tok.bos_id(), *tok.eos_id(), *tok.token_to_id("<\xEF\xBD\x9CUser\xEF\xBD\x9C>")}) {
    if (tok.is_special(special)) {
      EXPECT_FALSE(std::isfinite(logits[special])) << "special token " << special;
    }
  }
}

}  // namespace
}  // namespace fathom::engine
