// Text the way Python's str sees it, for the Jinja interpreter: whitespace is
// Unicode whitespace (str.strip, str.split, the lexer's \s) and strings are
// indexed by code point, not byte.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::tokenizer::jinja {

// Length in bytes of the whitespace character at the start of `text`, 0 if
// it does not start with one (Python's str.isspace for one character).
std::size_t whitespace_length(std::string_view text);

// Offset just past the last non-whitespace character (str.rstrip's cut).
std::size_t rstrip_end(std::string_view text);
// Offset of the first non-whitespace character (str.lstrip's cut).
std::size_t lstrip_begin(std::string_view text);
bool is_all_whitespace(std::string_view text);

// Byte offsets of each code point's start, plus the text's size at the end:
// code point i spans [starts[i], starts[i + 1]). Invalid bytes count one each.
std::vector<std::size_t> code_point_starts(std::string_view text);

// Appends the UTF-8 of a code point; false if it is not a Unicode scalar value.
bool append_utf8(std::string& out, unsigned long code_point);

}  // namespace fathom::tokenizer::jinja
