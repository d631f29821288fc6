// GPT-2's byte-level alphabet, which DeepSeek's vocabulary is written in.
//
// Every byte 0..255 is given a printable stand-in character so that a token's
// bytes can be stored as a JSON string: printable Latin-1 bytes stand for
// themselves, the other 68 bytes (controls, space, NBSP, soft hyphen) become
// U+0100..U+0143 in byte order. So a space is written 'Ġ' (U+0120) and a
// newline 'Ċ' (U+010A).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fathom::tokenizer::byte_level {

// The stand-in character of a byte.
char32_t code_point_of(unsigned char byte);

// The byte a stand-in character represents, or nullopt when `cp` is not one of the 256.
std::optional<unsigned char> byte_of(char32_t cp);

// Raw bytes → their byte-level spelling (UTF-8), as the vocabulary writes them.
std::string spell(std::string_view bytes);

// A byte-level spelling (valid UTF-8) → the raw bytes, or nullopt when a
// character is outside the alphabet (e.g. the '｜' of DeepSeek's special tokens).
std::optional<std::string> unspell(std::string_view spelling);

}  // namespace fathom::tokenizer::byte_level
