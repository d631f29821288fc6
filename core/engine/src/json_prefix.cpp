#include "fathom/engine/json_prefix.h"

#include <cstring>

namespace fathom::engine {

namespace {

bool is_whitespace(uint8_t b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }
bool is_digit(uint8_t b) { return b >= '0' && b <= '9'; }
bool is_hex(uint8_t b) { return is_digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F'); }

constexpr std::string_view kLiterals[] = {"true", "false", "null"};

}  // namespace

uint64_t JsonPrefix::hash() const {
  uint64_t words[2];
  static_assert(sizeof(JsonPrefix) == sizeof(words));
  std::memcpy(words, this, sizeof words);
  return words[0] * 0x9E3779B97F4A7C15ull ^ (words[1] + 0x632BE59BD9B4E019ull + (words[0] >> 17));
}

bool JsonPrefix::push(bool array) {
  if (depth_ >= kMaxDepth) return false;
  if (array) {
    arrays_ |= uint64_t{1} << depth_;
  } else {
    arrays_ &= ~(uint64_t{1} << depth_);
  }
  ++depth_;
  mode_ = array ? Mode::array_first : Mode::object_first;
  return true;
}

bool JsonPrefix::pop(bool array) {
  if (depth_ == 0 || in_array() != array) return false;
  --depth_;
  arrays_ &= ~(uint64_t{1} << depth_);
  return end_value();
}

bool JsonPrefix::end_value() {
  mode_ = depth_ == 0 ? Mode::done : Mode::after_value;
  sub_ = 0;  // what the value left behind, so that equal states compare equal (hash())
  utf8_ = 0;
  set_flag(kKey, false);
  return true;
}

bool JsonPrefix::start_value(uint8_t b) {
  if (depth_ == 0 && b != '{') return false;  // JSON mode: the top level is an object
  switch (b) {
    case '{': return push(false);
    case '[': return push(true);
    case '"':
      mode_ = Mode::string;
      sub_ = 0;
      set_flag(kKey, false);
      return true;
    case '-':
      mode_ = Mode::number;
      sub_ = minus;
      return true;
    case 't':
    case 'f':
    case 'n':
      mode_ = Mode::literal;
      sub_ = b == 't' ? 0 : b == 'f' ? 1 : 2;
      utf8_ = 1;
      return true;
    default:
      if (!is_digit(b)) return false;
      mode_ = Mode::number;
      sub_ = b == '0' ? zero : integer;
      utf8_ = 1;
      return true;
  }
}

bool JsonPrefix::feed_string(uint8_t b) {
  if (utf8_ > 0) {  // inside a multi-byte character
    if (b < utf8_low_ || b > utf8_high_) return false;
    utf8_low_ = 0x80;
    utf8_high_ = 0xBF;
    --utf8_;
    return true;
  }
  if (sub_ == 1) {  // after a backslash
    if (flag(kLowSurrogateDue) && b != 'u') return false;
    switch (b) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        sub_ = 0;
        return true;
      case 'u':
        sub_ = 5;  // four hex digits to go
        return true;
      default:
        return false;
    }
  }
  if (sub_ >= 2) return feed_hex_digit(b);
  if (flag(kLowSurrogateDue) && b != '\\') return false;  // a high surrogate's escape pairs with a low one's
  if (b == '"') {
    if (flag(kKey)) {
      mode_ = Mode::colon;
      set_flag(kKey, false);
      return true;
    }
    return end_value();
  }
  if (b == '\\') {
    sub_ = 1;
    return true;
  }
  if (b < 0x20) return false;  // control characters must be escaped
  if (b < 0x80) return true;
  // A UTF-8 lead byte: how many continuation bytes, and the first one's range (RFC 3629: no
  // overlong forms, no surrogates, nothing above U+10FFFF).
  utf8_low_ = 0x80;
  utf8_high_ = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    utf8_ = 1;
  } else if (b >= 0xE0 && b <= 0xEF) {
    utf8_ = 2;
    if (b == 0xE0) utf8_low_ = 0xA0;
    if (b == 0xED) utf8_high_ = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    utf8_ = 3;
    if (b == 0xF0) utf8_low_ = 0x90;
    if (b == 0xF4) utf8_high_ = 0x8F;
  } else {
    return false;
  }
  return true;
}

// \uXXXX: sub_ counts the digits to go (5 → four). UTF-16 surrogates must pair, as most parsers
// require: \uD800–\uDBFF only followed by an escaped \uDC00–\uDFFF, which appears nowhere else.
// While the digits are read, utf8_low_ says the first was D and utf8_high_ what the escape is.
bool JsonPrefix::feed_hex_digit(uint8_t b) {
  enum Kind : uint8_t { plain = 0, high = 1, low = 2 };
  if (!is_hex(b)) return false;
  const int index = 5 - sub_;
  const bool d = b == 'd' || b == 'D';
  if (index == 0) {
    if (flag(kLowSurrogateDue) && !d) return false;
    utf8_low_ = d ? 1 : 0;
    utf8_high_ = plain;
  } else if (index == 1 && utf8_low_ == 1) {
    const bool c_to_f = (b >= 'c' && b <= 'f') || (b >= 'C' && b <= 'F');
    const bool eight_to_b = (b >= '8' && b <= '9') || (b >= 'a' && b <= 'b') || (b >= 'A' && b <= 'B');
    utf8_high_ = c_to_f ? low : eight_to_b ? high : plain;
    if (flag(kLowSurrogateDue) != (utf8_high_ == low)) return false;
  }
  if (--sub_ > 1) return true;
  // The fourth digit: the escape is complete.
  set_flag(kLowSurrogateDue, utf8_high_ == high);
  sub_ = 0;
  utf8_low_ = 0x80;
  utf8_high_ = 0xBF;
  return true;
}

bool JsonPrefix::feed_number(uint8_t b) {
  // utf8_ counts the digits of the integer part, then of the exponent (see kMax*Digits).
  switch (sub_) {
    case minus:
      if (!is_digit(b)) return false;
      sub_ = b == '0' ? zero : integer;
      utf8_ = 1;
      return true;
    case zero:
    case integer:
      if (sub_ == integer && is_digit(b)) return ++utf8_ <= kMaxIntegerDigits;
      if (b == '.') {
        sub_ = dot;
        return true;
      }
      if (b == 'e' || b == 'E') {
        sub_ = exponent;
        return true;
      }
      break;  // the number ends here (a digit after a leading 0 cannot follow: checked below)
    case dot:
      if (!is_digit(b)) return false;
      sub_ = fraction;
      return true;
    case fraction:
      if (is_digit(b)) return true;
      if (b == 'e' || b == 'E') {
        sub_ = exponent;
        return true;
      }
      break;
    case exponent:
      if (b == '+' || b == '-') {
        sub_ = exponent_sign;
        return true;
      }
      [[fallthrough]];
    case exponent_sign:
      if (!is_digit(b)) return false;
      sub_ = exponent_digits;
      utf8_ = 1;
      return true;
    case exponent_digits:
      if (is_digit(b)) return ++utf8_ <= kMaxExponentDigits;
      break;
  }
  // The number is complete; the byte belongs to what follows it.
  if (is_digit(b)) return false;  // "01", or past the digit limits
  end_value();
  return feed(b);
}

bool JsonPrefix::feed_structural(uint8_t b) {
  switch (mode_) {
    case Mode::value:
      return start_value(b);
    case Mode::array_first:
      if (b == ']') return pop(true);
      return start_value(b);
    case Mode::object_first:
    case Mode::object_key:
      if (b == '}' && mode_ == Mode::object_first) return pop(false);
      if (b != '"') return false;
      mode_ = Mode::string;
      sub_ = 0;
      set_flag(kKey, true);
      return true;
    case Mode::colon:
      if (b != ':') return false;
      mode_ = Mode::value;
      return true;
    case Mode::after_value:
      if (b == ',') {
        mode_ = in_array() ? Mode::value : Mode::object_key;
        return true;
      }
      if (b == ']' || b == '}') return pop(b == ']');
      return false;
    default:
      return false;
  }
}

bool JsonPrefix::feed(uint8_t b) {
  switch (mode_) {
    case Mode::string:
      return feed_string(b);
    case Mode::number:
      return feed_number(b);
    case Mode::literal: {
      const std::string_view word = kLiterals[sub_];
      if (b != static_cast<uint8_t>(word[utf8_])) return false;
      if (++utf8_ == word.size()) {
        utf8_ = 0;
        return end_value();
      }
      return true;
    }
    case Mode::done:
      return false;
    default:
      break;
  }
  if (is_whitespace(b)) {
    if (whitespace_ >= kMaxWhitespaceRun) return false;
    ++whitespace_;
    return true;
  }
  whitespace_ = 0;
  return feed_structural(b);
}

}  // namespace fathom::engine
