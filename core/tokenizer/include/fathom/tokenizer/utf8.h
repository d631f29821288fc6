// UTF-8 helpers for the byte boundary: token bytes are arbitrary, text is UTF-8.
//
// Invalid bytes are replaced the way Rust's String::from_utf8_lossy (and so
// Hugging Face `tokenizers`) does it: one U+FFFD per "maximal subpart" of an
// ill-formed sequence (Unicode §3.9, "U+FFFD substitution of maximal subparts").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fathom::tokenizer::utf8 {

// What the bytes at the start of a buffer hold.
struct Sequence {
  enum class Kind {
    valid,      // a complete, well-formed character of `length` bytes
    invalid,    // `length` bytes (the maximal subpart) can never become a character
    truncated,  // the buffer ends after `length` bytes of a sequence that is well-formed so far
  };
  Kind kind;
  std::size_t length;
};

// Examines the character that starts `bytes` (which must not be empty).
Sequence scan(std::string_view bytes);

// Offset of the first byte that is not part of a well-formed character, or npos.
std::size_t find_invalid(std::string_view bytes);

inline bool is_valid(std::string_view bytes) { return find_invalid(bytes) == std::string_view::npos; }

// Appends `bytes` to `out`, replacing every maximal ill-formed subpart with U+FFFD.
void append_lossy(std::string& out, std::string_view bytes);

// Length of the longest prefix of `bytes` that does not end inside a truncated
// (possibly still completable) sequence. Bytes after it should be held back
// until more input arrives.
std::size_t completable_prefix_length(std::string_view bytes);

// The UTF-8 encoding of a code point (which must be a Unicode scalar value).
void append_code_point(std::string& out, char32_t cp);

// Decodes the valid UTF-8 character at the start of `bytes` and advances past it.
// `bytes` must start with a well-formed character.
char32_t next_code_point(std::string_view& bytes);

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace fathom::tokenizer::utf8
