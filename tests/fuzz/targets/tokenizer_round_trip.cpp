// The DeepSeek-V3 tokenizer on arbitrary bytes.
//
// Valid UTF-8: every id encode() returns is in the vocabulary, decode() gives the text back byte
// for byte (the tokenizer has no normaliser, so byte-level BPE loses nothing), and a streaming
// decoder fed the ids one at a time emits valid UTF-8 pieces that add up to the same text.
// Invalid UTF-8: encode() refuses it with fathom::Error. Either way the bytes also become a
// sequence of ids (three bytes each, modulo the vocabulary) whose decode() and streamed decode
// agree and are valid UTF-8: the decoder's side of arbitrary model output.
#include <string>
#include <vector>

#include "deepseek_tokenizer.h"
#include "fathom/tokenizer/stream_decoder.h"
#include "fuzz_support.h"

namespace {

using fathom::fuzz::fail;
using fathom::tokenizer::TokenId;
using fathom::tokenizer::Tokenizer;

// Written apart from the tokenizer's own utf8:: helpers, so that it can check them: the
// well-formed byte sequences of Unicode Table 3-7.
bool is_utf8(std::string_view s) {
  std::size_t i = 0;
  auto cont = [&](std::size_t at, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return at < s.size() && static_cast<unsigned char>(s[at]) >= lo && static_cast<unsigned char>(s[at]) <= hi;
  };
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (b <= 0x7F) n = 1;
    else if (b >= 0xC2 && b <= 0xDF) n = cont(i + 1) ? 2 : 0;
    else if (b == 0xE0) n = cont(i + 1, 0xA0) && cont(i + 2) ? 3 : 0;
    else if (b == 0xED) n = cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;
    else if (b >= 0xE1 && b <= 0xEF) n = cont(i + 1) && cont(i + 2) ? 3 : 0;
    else if (b == 0xF0) n = cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    else if (b >= 0xF1 && b <= 0xF3) n = cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    else if (b == 0xF4) n = cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string streamed(const Tokenizer& tok, const std::vector<TokenId>& ids) {
  auto decoder = tok.stream_decoder();
  std::string out;
  for (TokenId id : ids) {
    std::string piece = decoder.push(id);
    if (!is_utf8(piece)) fail("a streamed piece is not valid UTF-8", piece);
    out += piece;
  }
  std::string tail = decoder.finish();
  if (!is_utf8(tail)) fail("the stream's last piece is not valid UTF-8", tail);
  return out + tail;
}

void check_encode(const Tokenizer& tok, std::string_view text) {
  if (!is_utf8(text)) {
    try {
      (void)tok.encode(text);
    } catch (const fathom::Error&) {
      return;
    }
    fail("encode() accepted invalid UTF-8", text);
  }
  const std::vector<TokenId> ids = tok.encode(text);
  for (TokenId id : ids) {
    if (!tok.contains(id)) fail("encode() returned an id outside the vocabulary", text);
  }
  if (tok.decode(ids) != text) fail("decode(encode(text)) != text", text);
  if (streamed(tok, ids) != text) fail("streamed decode(encode(text)) != text", text);
}

void check_decode(const Tokenizer& tok, const std::uint8_t* data, std::size_t size) {
  std::vector<TokenId> ids;
  for (std::size_t i = 0; i + 3 <= size; i += 3) {
    const TokenId raw = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16);
    const auto id = static_cast<TokenId>(raw % tok.id_limit());
    if (tok.contains(id)) ids.push_back(id);
  }
  const std::string text = tok.decode(ids);
  if (!is_utf8(text)) fail("decode() returned invalid UTF-8", text);
  if (streamed(tok, ids) != text) fail("streamed decode differs from decode()", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Tokenizer& tok = fathom::fuzz::deepseek_tokenizer();
  fathom::fuzz::expect_only_fathom_errors([&] {
    check_encode(tok, fathom::fuzz::as_text(data, size));
    check_decode(tok, data, size);
  });
  return 0;
}
