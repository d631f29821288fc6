#include "fathom/tokenizer/utf8.h"

#include <cstdint>
#include <cstring>

namespace fathom::tokenizer::utf8 {

namespace {

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Eight bytes at a time while they are all ASCII: most text is mostly ASCII.
std::size_t skip_ascii(std::string_view bytes, std::size_t pos) {
  constexpr std::uint64_t kHighBits = 0x8080808080808080ull;
  while (pos + 8 <= bytes.size()) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + pos, 8);
    if (word & kHighBits) break;
    pos += 8;
  }
  while (pos < bytes.size() && static_cast<unsigned char>(bytes[pos]) < 0x80) ++pos;
  return pos;
}

}  // namespace

Sequence scan(std::string_view bytes) {
  const auto lead = static_cast<unsigned char>(bytes[0]);
  if (lead < 0x80) return {Sequence::Kind::valid, 1};
  // The allowed range of the second byte depends on the lead byte: this is
  // what excludes overlong forms (E0, F0), surrogates (ED) and > U+10FFFF (F4).
  std::size_t need;
  unsigned char second_lo = 0x80, second_hi = 0xBF;
  if (lead < 0xC2) {
    return {Sequence::Kind::invalid, 1};
  } else if (lead < 0xE0) {
    need = 2;
  } else if (lead < 0xF0) {
    need = 3;
    if (lead == 0xE0) second_lo = 0xA0;
    if (lead == 0xED) second_hi = 0x9F;
  } else if (lead < 0xF5) {
    need = 4;
    if (lead == 0xF0) second_lo = 0x90;
    if (lead == 0xF4) second_hi = 0x8F;
  } else {
    return {Sequence::Kind::invalid, 1};
  }
  if (bytes.size() < 2) return {Sequence::Kind::truncated, 1};
  const auto second = static_cast<unsigned char>(bytes[1]);
  if (second < second_lo || second > second_hi) return {Sequence::Kind::invalid, 1};
  for (std::size_t i = 2; i < need; ++i) {
    if (bytes.size() <= i) return {Sequence::Kind::truncated, i};
    if (!is_continuation(static_cast<unsigned char>(bytes[i]))) return {Sequence::Kind::invalid, i};
  }
  return {Sequence::Kind::valid, need};
}

std::size_t find_invalid(std::string_view bytes) {
  std::size_t pos = 0;
  while (true) {
    pos = skip_ascii(bytes, pos);
    if (pos >= bytes.size()) return std::string_view::npos;
    const Sequence seq = scan(bytes.substr(pos));
    if (seq.kind != Sequence::Kind::valid) return pos;
    pos += seq.length;
  }
}

void append_lossy(std::string& out, std::string_view bytes) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t ascii_end = skip_ascii(bytes, pos);
    out.append(bytes.data() + pos, ascii_end - pos);
    pos = ascii_end;
    if (pos >= bytes.size()) break;
    const Sequence seq = scan(bytes.substr(pos));
    if (seq.kind == Sequence::Kind::valid) {
      out.append(bytes.data() + pos, seq.length);
    } else {
      out.append(kReplacementCharacter);
    }
    pos += seq.length;
  }
}

std::size_t completable_prefix_length(std::string_view bytes) {
  // A truncated sequence is at most 3 bytes long, so only the tail needs a look;
  // but a lead byte is only a lead byte if the scan reaches it, so scan from the
  // last character boundary that is certainly not inside the tail.
  std::size_t start = bytes.size() > 3 ? bytes.size() - 3 : 0;
  while (start > 0 && is_continuation(static_cast<unsigned char>(bytes[start]))) --start;
  std::size_t pos = start;
  while (pos < bytes.size()) {
    const Sequence seq = scan(bytes.substr(pos));
    if (seq.kind == Sequence::Kind::truncated) return pos;
    pos += seq.length;
  }
  return bytes.size();
}

void append_code_point(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char32_t next_code_point(std::string_view& bytes) {
  const auto lead = static_cast<unsigned char>(bytes[0]);
  std::size_t length;
  char32_t cp;
  if (lead < 0x80) {
    length = 1;
    cp = lead;
  } else if (lead < 0xE0) {
    length = 2;
    cp = lead & 0x1F;
  } else if (lead < 0xF0) {
    length = 3;
    cp = lead & 0x0F;
  } else {
    length = 4;
    cp = lead & 0x07;
  }
  for (std::size_t i = 1; i < length; ++i) cp = (cp << 6) | (static_cast<unsigned char>(bytes[i]) & 0x3F);
  bytes.remove_prefix(length);
  return cp;
}

}  // namespace fathom::tokenizer::utf8
