// Streaming decode: never a broken character out, same text as a whole decode.
#include <gtest/gtest.h>

#include "fathom/tokenizer/byte_level.h"
#include "fathom/tokenizer/stream_decoder.h"
#include "fathom/tokenizer/utf8.h"
#include "test_support.h"

namespace fathom::tokenizer {
namespace {

using testing::deepseek_v3;

// The token of a single raw byte.
TokenId byte_token(unsigned char byte) {
  return *deepseek_v3().token_to_id(byte_level::spell(std::string(1, static_cast<char>(byte))));
}

TEST(StreamDecoder, HoldsAPartialCharacterUntilItIsComplete) {
  // 🚀 = F0 9F 9A 80, fed one byte token at a time.
  StreamDecoder stream = deepseek_v3().stream_decoder();
  EXPECT_EQ(stream.push(byte_token('a')), "a");
  EXPECT_EQ(stream.push(byte_token(0xF0)), "");
  EXPECT_EQ(stream.push(byte_token(0x9F)), "");
  EXPECT_EQ(stream.push(byte_token(0x9A)), "");
  EXPECT_EQ(stream.pending_bytes(), 3u);
  EXPECT_EQ(stream.push(byte_token(0x80)), "🚀");
  EXPECT_EQ(stream.finish(), "");
}

TEST(StreamDecoder, InvalidBytesComeOutAsAWholeDecodeWouldGiveThem) {
  const std::vector<TokenId> ids = {byte_token(0xE4), byte_token('x'), byte_token(0xE4), byte_token(0xBD)};
  StreamDecoder stream = deepseek_v3().stream_decoder();
  std::string streamed;
  for (const TokenId id : ids) streamed += stream.push(id);
  streamed += stream.finish();  // the truncated 你 at the end
  const std::string R(utf8::kReplacementCharacter);
  EXPECT_EQ(streamed, R + "x" + R);
  EXPECT_EQ(streamed, deepseek_v3().decode(ids));
}

TEST(StreamDecoder, MatchesWholeDecodeOnMixedScripts) {
  const std::string text = "深度求索 DeepSeek 🚀🔥 👨‍👩‍👧‍👦 naïve <｜User｜>héllo\n日本語のテキスト";
  const auto ids = deepseek_v3().encode(text);
  StreamDecoder stream = deepseek_v3().stream_decoder();
  std::string streamed;
  std::size_t held = 0;
  for (const TokenId id : ids) {
    const std::string chunk = stream.push(id);
    ASSERT_TRUE(utf8::is_valid(chunk));
    held += stream.pending_bytes() > 0;
    streamed += chunk;
  }
  streamed += stream.finish();
  EXPECT_EQ(streamed, text);
  EXPECT_GT(held, 0u) << "expected at least one character split across tokens";
}

TEST(StreamDecoder, SkipsSpecialTokensOnRequest) {
  StreamDecoder stream = deepseek_v3().stream_decoder(/*skip_special_tokens=*/true);
  std::string streamed;
  for (const TokenId id : deepseek_v3().encode("ok<｜end▁of▁sentence｜>", true)) streamed += stream.push(id);
  EXPECT_EQ(streamed + stream.finish(), "ok");
}

TEST(StreamDecoder, OutlivesTheTokenizerItCameFrom) {
  std::optional<StreamDecoder> stream;
  {
    const Tokenizer copy = deepseek_v3();
    stream.emplace(copy.stream_decoder());
  }
  EXPECT_EQ(stream->push(byte_token('z')), "z");
}

}  // namespace
}  // namespace fathom::tokenizer
