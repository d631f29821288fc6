// A byte-level recogniser of JSON prefixes (RFC 8259): fed one byte at a time, it says whether
// the bytes so far can still begin a valid JSON text, and whether they already form one. It is
// what JSON mode (`response_format: {"type": "json_object"}`) checks each candidate token with.
//
// Beyond RFC 8259, to keep generation finite and the state small:
//  - the top-level value must be an object (OpenAI's JSON mode), and nothing follows it, not even
//    whitespace, so that once it closes only end-of-sequence remains;
//  - at most kMaxWhitespaceRun whitespace bytes in a row (a weak model can otherwise emit
//    newlines forever);
//  - nesting at most kMaxDepth containers deep;
//  - numbers a double holds: at most kMaxIntegerDigits digits before the point and
//    kMaxExponentDigits in the exponent (below 1e120), since many parsers (nlohmann::json,
//    serde_json) refuse a number that overflows one.
// Strings must be valid UTF-8 (no overlong forms, no surrogates), and \u escapes of UTF-16
// surrogates must pair (a high one followed at once by an escaped low one), as nlohmann::json,
// serde_json and others require.
//
// The state is 16 bytes and trivially copyable: checking a candidate token is copying it and
// feeding the token's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fathom::engine {

class JsonPrefix {
 public:
  static constexpr int kMaxDepth = 64;
  static constexpr int kMaxWhitespaceRun = 32;
  static constexpr int kMaxIntegerDigits = 20;
  static constexpr int kMaxExponentDigits = 2;

  // False (and the state unchanged in meaning: do not use it further) when `byte` cannot follow.
  bool feed(uint8_t byte);
  bool feed(std::string_view bytes) {
    for (char c : bytes) {
      if (!feed(static_cast<uint8_t>(c))) return false;
    }
    return true;
  }
  // A whole JSON text has been read: only end-of-sequence may follow.
  bool complete() const { return mode_ == Mode::done; }

  bool operator==(const JsonPrefix&) const = default;
  // For caching by state.
  uint64_t hash() const;

 private:
  enum class Mode : uint8_t {
    value,             // a value must start (after ':' or ',' in an array, or at the top)
    array_first,       // after '[': a value or ']'
    object_first,      // after '{': a key or '}'
    object_key,        // after ',' in an object: a key
    colon,             // after a key
    after_value,       // after a value inside a container: ',' or the closing bracket
    string,            // inside a string (sub_: 0 plain, 1 after '\', 2..5 hex digits to go + 1,
                       //   or UTF-8 continuation bytes to go, in utf8_)
    number,            // sub_: NumberPart
    literal,           // sub_: which literal, utf8_: bytes of it matched
    done,
  };
  enum NumberPart : uint8_t { minus, zero, integer, dot, fraction, exponent, exponent_sign, exponent_digits };

  bool start_value(uint8_t byte);
  bool end_value();  // a value just ended: after_value, or done at the top
  bool feed_string(uint8_t byte);
  bool feed_hex_digit(uint8_t byte);
  bool feed_number(uint8_t byte);
  bool feed_structural(uint8_t byte);
  bool push(bool array);
  bool pop(bool array);
  bool in_array() const { return depth_ > 0 && ((arrays_ >> (depth_ - 1)) & 1) != 0; }
  static constexpr uint8_t kKey = 1;              // the string being read is an object key
  static constexpr uint8_t kLowSurrogateDue = 2;  // a \uD800–\uDBFF escape waits for its low half
  bool flag(uint8_t f) const { return (flags_ & f) != 0; }
  void set_flag(uint8_t f, bool on) { flags_ = static_cast<uint8_t>(on ? flags_ | f : flags_ & ~f); }

  uint64_t arrays_ = 0;  // bit d: the container at depth d + 1 is an array
  Mode mode_ = Mode::value;
  uint8_t depth_ = 0;
  uint8_t sub_ = 0;
  uint8_t utf8_ = 0;        // string: continuation bytes still due; literal: bytes matched; number: digits
  uint8_t utf8_low_ = 0x80; // the range the next continuation byte must lie in (first one only)
  uint8_t utf8_high_ = 0xBF;
  uint8_t whitespace_ = 0;  // whitespace bytes in a row
  uint8_t flags_ = 0;       // kKey | kLowSurrogateDue (whole bytes, so that hash() sees no padding)
};

}  // namespace fathom::engine
