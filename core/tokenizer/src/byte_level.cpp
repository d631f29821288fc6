#include "fathom/tokenizer/byte_level.h"

#include <array>

#include "fathom/tokenizer/utf8.h"

namespace fathom::tokenizer::byte_level {

namespace {

// Bytes that are printable in Latin-1 (and not a space) stand for themselves.
constexpr bool stands_for_itself(unsigned b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

constexpr unsigned kLastCodePoint = 0x100 + 68 - 1;  // the 68 remapped bytes end here

struct Alphabet {
  std::array<char32_t, 256> code_point{};
  std::array<short, kLastCodePoint + 1> byte{};  // -1: not a stand-in

  constexpr Alphabet() {
    for (auto& b : byte) b = -1;
    unsigned next_remapped = 0x100;
    for (unsigned b = 0; b < 256; ++b) {
      const char32_t cp = stands_for_itself(b) ? b : next_remapped++;
      code_point[b] = cp;
      byte[cp] = static_cast<short>(b);
    }
  }
};

constexpr Alphabet kAlphabet;
static_assert(kAlphabet.code_point[' '] == 0x120 && kAlphabet.code_point['\n'] == 0x10A);

}  // namespace

char32_t code_point_of(unsigned char byte) { return kAlphabet.code_point[byte]; }

std::optional<unsigned char> byte_of(char32_t cp) {
  if (cp > kLastCodePoint || kAlphabet.byte[cp] < 0) return std::nullopt;
  return static_cast<unsigned char>(kAlphabet.byte[cp]);
}

std::string spell(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) utf8::append_code_point(out, code_point_of(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> unspell(std::string_view spelling) {
  std::string out;
  out.reserve(spelling.size());
  while (!spelling.empty()) {
    const auto byte = byte_of(utf8::next_code_point(spelling));
    if (!byte) return std::nullopt;
    out.push_back(static_cast<char>(*byte));
  }
  return out;
}

}  // namespace fathom::tokenizer::byte_level
