// Lossy UTF-8 (U+FFFD per maximal subpart, as Rust's from_utf8_lossy and
// Python's errors="replace") and the hold-back rule of the stream decoder.
#include <gtest/gtest.h>

#include "fathom/tokenizer/utf8.h"

namespace fathom::tokenizer::utf8 {
namespace {

std::string lossy(std::string_view bytes) {
  std::string out;
  append_lossy(out, bytes);
  return out;
}

const std::string R(kReplacementCharacter);

TEST(Utf8, ValidTextPassesUnchanged) {
  const std::string text = "plain ASCII text that is long enough for the word loop, é 深 🚀";
  EXPECT_TRUE(is_valid(text));
  EXPECT_EQ(lossy(text), text);
}

TEST(Utf8, MaximalSubpartsBecomeOneReplacementEach) {
  // Expected values from Python's bytes.decode("utf-8", "replace").
  EXPECT_EQ(lossy("Hello\xF0\x90\x80World"), "Hello" + R + "World");
  EXPECT_EQ(lossy("\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"), R + R + R + "b" + R + "c" + R + R + "d");
  EXPECT_EQ(lossy("\xED\xA0\x80"), R + R + R);         // surrogate
  EXPECT_EQ(lossy("\xC0\xAF"), R + R);                 // overlong
  EXPECT_EQ(lossy("\xF4\x90\x80\x80"), R + R + R + R);  // above U+10FFFF
  EXPECT_EQ(lossy("a\xE4\xBD"), "a" + R);              // truncated at the end
}

TEST(Utf8, FindInvalidReportsTheOffset) {
  EXPECT_EQ(find_invalid("abcdefghij\xFFxyz"), 10u);
  EXPECT_EQ(find_invalid("\xE4\xBD\xA0ok"), std::string_view::npos);
}

TEST(Utf8, OnlyAnUnfinishedTailIsHeldBack) {
  EXPECT_EQ(completable_prefix_length("abc"), 3u);
  EXPECT_EQ(completable_prefix_length("ab\xE4\xBD"), 2u);        // 你 missing its last byte
  EXPECT_EQ(completable_prefix_length("ab\xF0\x9F\x9A"), 2u);    // 🚀 missing its last byte
  EXPECT_EQ(completable_prefix_length("ab\xE4\xBD\xA0"), 5u);    // complete
  EXPECT_EQ(completable_prefix_length("ab\xE4x"), 4u);           // can never complete: not held
  EXPECT_EQ(completable_prefix_length("\x80\x80\x80\x80\xE4"), 4u);
  EXPECT_EQ(completable_prefix_length(""), 0u);
}

TEST(Utf8, CodePointsRoundTrip) {
  for (const char32_t cp : {U'a', U'\u00E9', U'\u6DF1', U'\U0001F680', U'\u0120'}) {
    std::string encoded;
    append_code_point(encoded, cp);
    std::string_view view = encoded;
    EXPECT_EQ(next_code_point(view), cp);
    EXPECT_TRUE(view.empty());
  }
}

}  // namespace
}  // namespace fathom::tokenizer::utf8
