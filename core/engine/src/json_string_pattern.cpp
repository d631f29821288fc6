#include "json_string_pattern.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "fathom/core/error.h"

namespace fathom::engine {

namespace {

using Seq = GrammarBuilder::Seq;

constexpr int kMaxCount = 1000;
constexpr size_t kMaxElements = 100'000;

// Characters one regex atom matches: ASCII ones by bit, and whether non-ASCII ones too.
struct CharClass {
  ByteSet ascii;
  bool non_ascii = false;
  bool no_line_separators = false;  // `.`: not U+2028 / U+2029
};

const ByteSet kAscii = ByteSet::range(0x00, 0x7F);
const ByteSet kDigits = ByteSet::range('0', '9');
const ByteSet kWord = ByteSet::range('a', 'z') | ByteSet::range('A', 'Z') | kDigits | ByteSet::of('_');
const ByteSet kSpace = ByteSet::of_chars(" \t\n\r\f\v");
// Control characters a negated class still generates (the others would only be noise).
const ByteSet kUsefulControls = ByteSet::of_chars("\t\n\r");
const ByteSet kControls = ByteSet::range(0x00, 0x1F);

// What a pattern's matches are written as: the contents of a JSON string (escaped where JSON
// must), or plain text.
enum class Output { json_string, text };

class PatternCompiler {
 public:
  // `any_char`: a rule reading one JSON string character, for unanchored ends (json_string only;
  // text matches whole). `where`: the schema place (json_string) or the request field (text).
  PatternCompiler(GrammarBuilder& g, std::string_view pattern, Output output, uint32_t any_char, std::string where)
      : g_(g),
        p_(pattern),
        output_(output),
        any_char_(any_char),
        where_(std::move(where)),
        context_(output == Output::json_string ? "JSON schema at '#" + where_ + "'" : "'" + where_ + "'") {}

  uint32_t compile() {
    // Top level: each alternative may be anchored at either end; unanchored ends of a JSON
    // string's pattern read anything (JSON Schema searches), a text's match is the whole text.
    const Seq anything = output_ == Output::text ? Seq{} : star(GrammarBuilder::ref(any_char_));
    std::vector<Seq> alternatives;
    while (true) {
      const bool at_start = i_ < p_.size() && p_[i_] == '^';
      if (at_start) ++i_;
      bool at_end = false;
      const Seq body = sequence(/*top=*/true, &at_end);
      alternatives.push_back((at_start ? Seq{} : anything) + body + (at_end ? Seq{} : anything));
      if (i_ == p_.size()) break;
      if (p_[i_] == ')') malformed("unbalanced ')'");
      ++i_;  // '|'
    }
    return g_.rule(where_ + "(pattern)", std::move(alternatives));
  }

 private:
  [[noreturn]] void malformed(const std::string& what) const {
    throw invalid_argument(context_ + ": the pattern is not a regular expression Fathom reads: " + what +
                           " (at character " + std::to_string(i_) + ")");
  }
  [[noreturn]] void refuse(const std::string& what) const {
    throw unsupported(context_ + ": " + what + " in the pattern is not supported (at character " + std::to_string(i_) +
                      ")");
  }

  Seq star(const Seq& atom) {
    const uint32_t r = g_.declare(where_ + "(repeat)");
    g_.define(r, {Seq{}, atom + GrammarBuilder::ref(r)});
    return GrammarBuilder::ref(r);
  }
  Seq optional(const Seq& atom) { return GrammarBuilder::ref(g_.rule(where_ + "(optional)", {atom, Seq{}})); }
  Seq group(std::vector<Seq> alternatives) {
    if (alternatives.size() == 1) return alternatives[0];
    return GrammarBuilder::ref(g_.rule(where_ + "(group)", std::move(alternatives)));
  }

  // Atoms until '|', ')' or the end; at the top level a final '$' anchors the end.
  Seq sequence(bool top, bool* at_end) {
    Seq seq;
    while (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') {
      if (p_[i_] == '$' && top && (i_ + 1 == p_.size() || p_[i_ + 1] == '|')) {
        ++i_;
        *at_end = true;
        break;
      }
      if (p_[i_] == '^' || p_[i_] == '$') refuse("an anchor other than at the ends");
      seq = seq + quantified();
    }
    return seq;
  }

  Seq quantified() {
    const Seq atom = this->atom();
    if (i_ == p_.size()) return atom;
    Seq result;
    switch (p_[i_]) {
      case '*': ++i_; result = star(atom); break;
      case '+': ++i_; result = atom + star(atom); break;
      case '?': ++i_; result = optional(atom); break;
      case '{': result = counted(atom); break;
      default: return atom;
    }
    if (i_ < p_.size() && p_[i_] == '?') ++i_;  // lazy: the same strings
    if (i_ < p_.size() && std::string_view("*+?{").find(p_[i_]) != std::string_view::npos) malformed("a quantifier after a quantifier");
    return result;
  }

  int number() {
    const size_t start = i_;
    int n = 0;
    while (i_ < p_.size() && p_[i_] >= '0' && p_[i_] <= '9') {
      n = n * 10 + (p_[i_++] - '0');
      if (n > kMaxCount) refuse("a count above " + std::to_string(kMaxCount));
    }
    if (i_ == start) refuse("a '{' that is not a count");
    return n;
  }

  // {n}, {n,}, {n,m}
  Seq counted(const Seq& atom) {
    ++i_;
    const int min = number();
    int max = min;
    if (i_ < p_.size() && p_[i_] == ',') {
      ++i_;
      max = i_ < p_.size() && p_[i_] == '}' ? -1 : number();
    }
    if (i_ == p_.size() || p_[i_] != '}') refuse("a '{' that is not a count");
    ++i_;
    if (max >= 0 && max < min) malformed("a count {n,m} with m below n");
    // Counts are unrolled, so nested ones multiply: bound what one pattern may grow to.
    if (atom.size() * static_cast<size_t>(std::max(min, max) + 1) > kMaxElements) refuse("a pattern this large");
    Seq seq;
    for (int k = 0; k < min; ++k) seq = seq + atom;
    if (max < 0) return seq + star(atom);
    // At most max - min more: each optional one opens the next.
    Seq tail;
    for (int k = max - min; k > 0; --k) tail = optional(atom + tail);
    return seq + tail;
  }

  Seq atom() {
    const char c = p_[i_];
    switch (c) {
      case '(': {
        ++i_;
        if (p_.substr(i_, 2) == "?:") {
          i_ += 2;
        } else if (i_ < p_.size() && p_[i_] == '?') {
          refuse("lookaround or a named group");
        }
        std::vector<Seq> alternatives;
        while (true) {
          bool unused = false;
          alternatives.push_back(sequence(/*top=*/false, &unused));
          if (i_ == p_.size()) malformed("an unclosed '('");
          if (p_[i_++] == ')') break;
        }
        return group(std::move(alternatives));
      }
      case '[':
        return encode(char_class());
      case '.': {
        ++i_;
        CharClass dot{kAscii - ByteSet::of_chars("\n\r"), true, true};
        dot.ascii = dot.ascii - (kControls - kUsefulControls);
        return encode(dot);
      }
      case '\\':
        return encode(escape(/*in_class=*/false));
      case '*': case '+': case '?': case '{':
        malformed("nothing to repeat");
      default:
        return literal();
    }
  }

  // One literal character, a UTF-8 sequence when not ASCII (written raw).
  Seq literal() {
    const auto lead = static_cast<uint8_t>(p_[i_]);
    const size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (i_ + length > p_.size()) malformed("a character cut short");
    const std::string_view bytes = p_.substr(i_, length);
    i_ += length;
    if (length > 1) return g_.text(bytes);
    CharClass one;
    one.ascii = ByteSet::of(lead);
    return encode(one);
  }

  // After '\': a class (\d ...) or one character. In a class, non-ASCII is refused.
  CharClass escape(bool in_class) {
    ++i_;
    if (i_ == p_.size()) malformed("a '\\' at the end");
    const char c = p_[i_++];
    CharClass out;
    switch (c) {
      case 'd': out.ascii = kDigits; return out;
      case 'w': out.ascii = kWord; return out;
      case 's': out.ascii = kSpace; return out;
      // ASCII only: Python counts more of Unicode as digits, word characters and spaces.
      case 'D': out.ascii = kAscii - kDigits - (kControls - kUsefulControls); return out;
      case 'W': out.ascii = kAscii - kWord - (kControls - kUsefulControls); return out;
      case 'S': out.ascii = kAscii - kSpace - kControls; return out;
      case 'n': out.ascii = ByteSet::of('\n'); return out;
      case 'r': out.ascii = ByteSet::of('\r'); return out;
      case 't': out.ascii = ByteSet::of('\t'); return out;
      case 'f': out.ascii = ByteSet::of('\f'); return out;
      case 'v': out.ascii = ByteSet::of('\v'); return out;
      case 'x': case 'u': {
        const size_t digits = c == 'x' ? 2 : 4;
        uint32_t code = 0;
        for (size_t k = 0; k < digits; ++k) {
          if (i_ == p_.size() || !std::isxdigit(static_cast<unsigned char>(p_[i_]))) malformed("a short \\x or \\u escape");
          const char h = p_[i_++];
          code = code * 16 + static_cast<uint32_t>(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
        }
        if (code >= 0x80) refuse(in_class ? "a non-ASCII character in a class" : "a \\x or \\u escape of a non-ASCII character");
        out.ascii = ByteSet::of(static_cast<uint8_t>(code));
        return out;
      }
      default:
        if (c >= '1' && c <= '9') refuse("a backreference");
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '0') {
          refuse(std::string("the escape \\") + c);  // \b, \B, \p, \k, \c, \0...: dialects differ
        }
        if (static_cast<uint8_t>(c) >= 0x80) refuse("an escaped non-ASCII character");
        out.ascii = ByteSet::of(static_cast<uint8_t>(c));  // \. \* \\ \/ ...: the character itself
        return out;
    }
  }

  CharClass char_class() {
    ++i_;  // '['
    const bool negated = i_ < p_.size() && p_[i_] == '^';
    if (negated) ++i_;
    if (i_ < p_.size() && p_[i_] == ']') refuse("a class starting with ']' (read differently by ECMA-262 and Python)");
    CharClass set;
    bool shorthand = false;  // \d \w \s or their negations: non-ASCII would read differently
    auto member = [&](bool* single, uint8_t* ch) {
      if (i_ == p_.size()) malformed("an unclosed '['");
      if (p_[i_] == '\\') {
        const char kind = i_ + 1 < p_.size() ? p_[i_ + 1] : 0;
        const CharClass e = escape(/*in_class=*/true);
        shorthand |= std::string_view("dwsDWS").find(kind) != std::string_view::npos && kind != 0;
        *single = std::string_view("dwsDWS").find(kind) == std::string_view::npos;
        for (int b = 0; b < 128 && *single; ++b) {
          if (e.ascii.contains(static_cast<uint8_t>(b))) *ch = static_cast<uint8_t>(b);
        }
        return e.ascii;
      }
      const auto b = static_cast<uint8_t>(p_[i_]);
      if (b >= 0x80) refuse("a non-ASCII character in a class");
      if (p_[i_] == '[') refuse("'[' inside a class");
      ++i_;
      *single = true;
      *ch = b;
      return ByteSet::of(b);
    };
    while (true) {
      if (i_ == p_.size()) malformed("an unclosed '['");
      if (p_[i_] == ']') break;
      bool single = false;
      uint8_t first = 0;
      const ByteSet part = member(&single, &first);
      if (single && i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
        ++i_;
        bool single_last = false;
        uint8_t last = 0;
        member(&single_last, &last);
        if (!single_last) malformed("a range to a class");
        if (last < first) malformed("a range out of order");
        set.ascii = set.ascii | ByteSet::range(first, last);
      } else {
        set.ascii = set.ascii | part;
      }
    }
    ++i_;  // ']'
    if (negated) {
      set.ascii = kAscii - set.ascii - (kControls - kUsefulControls);
      set.non_ascii = !shorthand;
    }
    return set;
  }

  // One character of `c`: as itself in text; in a JSON string raw where JSON allows, escaped
  // where it must.
  Seq encode(const CharClass& c) {
    std::vector<Seq> alternatives;
    if (output_ == Output::text) {
      if (!c.ascii.empty()) alternatives.push_back(g_.bytes(c.ascii));
      if (c.non_ascii) alternatives.push_back(GrammarBuilder::ref(non_ascii(c.no_line_separators)));
      if (alternatives.empty()) malformed("a class that matches no character");
      return group(std::move(alternatives));
    }
    const ByteSet raw = c.ascii - kControls - ByteSet::of_chars("\"\\");
    if (!raw.empty()) alternatives.push_back(g_.bytes(raw));
    if (c.ascii.contains('"')) alternatives.push_back(g_.text("\\\""));
    if (c.ascii.contains('\\')) alternatives.push_back(g_.text("\\\\"));
    static constexpr std::pair<char, const char*> kShort[] = {{'\b', "\\b"}, {'\f', "\\f"}, {'\n', "\\n"}, {'\r', "\\r"}, {'\t', "\\t"}};
    for (int b = 0; b < 0x20; ++b) {
      if (!c.ascii.contains(static_cast<uint8_t>(b))) continue;
      std::string escaped;
      for (const auto& [ch, text] : kShort) {
        if (ch == b) escaped = text;
      }
      if (escaped.empty()) {
        static constexpr char kHex[] = "0123456789abcdef";
        escaped = std::string("\\u00") + kHex[b >> 4] + kHex[b & 15];
      }
      alternatives.push_back(g_.text(escaped));
    }
    if (c.non_ascii) alternatives.push_back(GrammarBuilder::ref(non_ascii(c.no_line_separators)));
    if (alternatives.empty()) malformed("a class that matches no character");
    return group(std::move(alternatives));
  }

  // Any non-ASCII character as UTF-8 (RFC 3629), optionally without U+2028 and U+2029.
  uint32_t non_ascii(bool no_line_separators) {
    uint32_t& rule = no_line_separators ? non_ascii_no_ls_ : non_ascii_;
    if (rule != kNone) return rule;
    const Seq cont = g_.bytes(ByteSet::range(0x80, 0xBF));
    std::vector<Seq> alternatives = {
        g_.bytes(ByteSet::range(0xC2, 0xDF)) + cont,
        g_.byte(0xE0) + g_.bytes(ByteSet::range(0xA0, 0xBF)) + cont,
        g_.bytes(ByteSet::range(0xE1, 0xE1) | ByteSet::range(0xE3, 0xEC) | ByteSet::range(0xEE, 0xEF)) + cont + cont,
        g_.byte(0xED) + g_.bytes(ByteSet::range(0x80, 0x9F)) + cont,
        g_.byte(0xF0) + g_.bytes(ByteSet::range(0x90, 0xBF)) + cont + cont,
        g_.bytes(ByteSet::range(0xF1, 0xF3)) + cont + cont + cont,
        g_.byte(0xF4) + g_.bytes(ByteSet::range(0x80, 0x8F)) + cont + cont};
    // E2: U+2000–U+2FFF, where U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
    if (no_line_separators) {
      alternatives.push_back(g_.byte(0xE2) + g_.bytes(ByteSet::range(0x81, 0xBF)) + cont);
      alternatives.push_back(g_.byte(0xE2) + g_.byte(0x80) + g_.bytes(ByteSet::range(0x80, 0xBF) - ByteSet::of_chars("\xA8\xA9")));
    } else {
      alternatives.push_back(g_.byte(0xE2) + cont + cont);
    }
    rule = g_.rule("non-ascii", std::move(alternatives));
    return rule;
  }

  static constexpr uint32_t kNone = UINT32_MAX;
  GrammarBuilder& g_;
  std::string_view p_;
  Output output_;
  uint32_t any_char_;
  std::string where_;
  std::string context_;  // how errors name the pattern
  size_t i_ = 0;
  uint32_t non_ascii_ = kNone, non_ascii_no_ls_ = kNone;
};

}  // namespace

uint32_t pattern_string_contents(GrammarBuilder& g, std::string_view pattern, uint32_t any_char, const std::string& where) {
  return PatternCompiler(g, pattern, Output::json_string, any_char, where).compile();
}

uint32_t pattern_text(GrammarBuilder& g, std::string_view pattern, const std::string& field) {
  return PatternCompiler(g, pattern, Output::text, 0, field).compile();
}

std::string_view format_pattern(std::string_view format) {
  // Exact subsets of RFC 3339 / RFC 4122 / RFC 2673: every string generated is valid. Dates
  // leave out 29 February (a leap year is arithmetic), times the leap second.
  if (format == "date") {
    return R"(^\d{4}-((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|(0[469]|11)-(0[1-9]|[12]\d|30)|02-(0[1-9]|1\d|2[0-8]))$)";
  }
  if (format == "time") return R"(^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$)";
  if (format == "date-time") {
    return R"(^\d{4}-((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|(0[469]|11)-(0[1-9]|[12]\d|30)|02-(0[1-9]|1\d|2[0-8]))T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$)";
  }
  if (format == "uuid") return R"(^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$)";
  if (format == "ipv4") return R"(^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$)";
  if (format == "email") return R"(^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}$)";
  return {};
}

}  // namespace fathom::engine
