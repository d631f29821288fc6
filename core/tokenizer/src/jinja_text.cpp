#include "jinja_text.h"

#include "fathom/tokenizer/utf8.h"

namespace fathom::tokenizer::jinja {

namespace {

// The code points above ASCII that Python's str.isspace accepts.
bool is_unicode_space(char32_t cp) {
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

}  // namespace

std::size_t whitespace_length(std::string_view text) {
  if (text.empty()) return 0;
  const auto c = static_cast<unsigned char>(text.front());
  if (c < 0x80) return (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) ? 1 : 0;
  const utf8::Sequence sequence = utf8::scan(text);
  if (sequence.kind != utf8::Sequence::Kind::valid) return 0;
  std::string_view rest = text;
  return is_unicode_space(utf8::next_code_point(rest)) ? sequence.length : 0;
}

std::size_t rstrip_end(std::string_view text) {
  std::size_t end = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t space = whitespace_length(text.substr(pos));
    if (space > 0) {
      pos += space;
      continue;
    }
    const utf8::Sequence sequence = utf8::scan(text.substr(pos));
    pos += sequence.length == 0 ? 1 : sequence.length;
    end = pos;
  }
  return end;
}

std::size_t lstrip_begin(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t space = whitespace_length(text.substr(pos));
    if (space == 0) break;
    pos += space;
  }
  return pos;
}

bool is_all_whitespace(std::string_view text) { return lstrip_begin(text) == text.size(); }

std::vector<std::size_t> code_point_starts(std::string_view text) {
  std::vector<std::size_t> starts;
  std::size_t pos = 0;
  while (pos < text.size()) {
    starts.push_back(pos);
    const utf8::Sequence sequence = utf8::scan(text.substr(pos));
    pos += sequence.kind == utf8::Sequence::Kind::valid ? sequence.length : 1;
  }
  starts.push_back(text.size());
  return starts;
}

bool append_utf8(std::string& out, unsigned long code_point) {
  if (code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return false;
  utf8::append_code_point(out, static_cast<char32_t>(code_point));
  return true;
}

}  // namespace fathom::tokenizer::jinja
