// GBNF, the grammar notation of llama.cpp (and, as "EBNF", of vLLM's structured_outputs.grammar
// through xgrammar), read into a Grammar over bytes. The notation, as llama.cpp's grammars
// README describes it:
//
//   root  ::= greeting " " name        # a rule per line; `root` is where texts start
//   greeting ::= "hello" | "hi"        # alternatives
//   name  ::= [A-Z] [a-z]* ("-" [A-Z] [a-z]*)?
//
// Elements: "literals" (escapes \n \r \t \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH), character classes
// [a-z0-9_] and [^...] over code points, `.` (any code point), rule names, ( groups ), and the
// postfix operators * + ? {m} {m,} {m,n} {,n}. `#` starts a comment. A rule ends at the end of
// its line, except inside parentheses or right after a `|`.
//
// Characters are code points written as UTF-8; classes and `.` become the UTF-8 byte sequences
// of their code points (surrogates excluded), so every text the grammar accepts is valid UTF-8.
#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fathom/core/error.h"
#include "fathom/engine/text_grammar.h"
#include "fathom/tokenizer/utf8.h"

namespace fathom::engine {

namespace {

using Seq = GrammarBuilder::Seq;

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr int kMaxCount = 1000;
constexpr size_t kMaxElements = 200'000;

struct Range {
  uint32_t first, last;  // inclusive
};

// The ranges sorted and merged, surrogates (U+D800-U+DFFF, not characters) cut out.
std::vector<Range> normalise(std::vector<Range> ranges) {
  std::vector<Range> cut;
  for (const Range& r : ranges) {
    if (r.last < 0xD800 || r.first > 0xDFFF) {
      cut.push_back(r);
      continue;
    }
    if (r.first < 0xD800) cut.push_back({r.first, 0xD7FF});
    if (r.last > 0xDFFF) cut.push_back({0xE000, r.last});
  }
  std::sort(cut.begin(), cut.end(), [](const Range& a, const Range& b) { return a.first < b.first; });
  std::vector<Range> out;
  for (const Range& r : cut) {
    if (!out.empty() && r.first <= out.back().last + 1) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

std::vector<Range> complement(const std::vector<Range>& sorted) {
  std::vector<Range> out;
  uint32_t next = 0;
  for (const Range& r : sorted) {
    if (r.first > next) out.push_back({next, r.first - 1});
    next = r.last + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return normalise(out);
}

int utf8_length(uint32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

std::string utf8(uint32_t c) {
  std::string s;
  tokenizer::utf8::append_code_point(s, static_cast<char32_t>(c));
  return s;
}

// The byte sequences of the code points first..last, all of one UTF-8 length: split until each
// piece is a product of byte ranges (every byte position free within its own range), which is
// the case once first and last differ only in trailing bytes that span their whole range.
void utf8_sequences(GrammarBuilder& g, uint32_t first, uint32_t last, std::vector<Seq>& out) {
  const int n = utf8_length(first);
  for (int k = 1; k < n; ++k) {
    const uint32_t low = (1u << (6 * k)) - 1;  // the code point bits of the last k bytes
    if ((first & ~low) == (last & ~low)) continue;
    if ((first & low) != 0) {
      utf8_sequences(g, first, first | low, out);
      utf8_sequences(g, (first | low) + 1, last, out);
      return;
    }
    if ((last & low) != low) {
      utf8_sequences(g, first, (last & ~low) - 1, out);
      utf8_sequences(g, last & ~low, last, out);
      return;
    }
  }
  const std::string a = utf8(first), b = utf8(last);
  Seq seq;
  for (size_t i = 0; i < a.size(); ++i) {
    seq = seq + g.bytes(ByteSet::range(static_cast<uint8_t>(a[i]), static_cast<uint8_t>(b[i])));
  }
  out.push_back(std::move(seq));
}

class GbnfReader {
 public:
  GbnfReader(GrammarBuilder& g, std::string_view text, std::string field) : g_(g), s_(text), field_(std::move(field)) {}

  uint32_t read() {
    skip_space(true);
    while (i_ < s_.size()) {
      const size_t at = i_;
      const std::string name = this->name();
      skip_space(false);
      if (s_.substr(i_, 3) != "::=") malformed("'::=' after the rule name '" + name + "'");
      i_ += 3;
      skip_space(true);
      const uint32_t r = rule_id(name);
      if (defined_[r]) {
        i_ = at;
        malformed("a second definition of '" + name + "'");
      }
      defined_[r] = true;
      g_.define(r, alternatives(false));
      if (i_ < s_.size() && s_[i_] != '\n' && s_[i_] != '\r') malformed("the end of the rule's line");
      skip_space(true);
    }
    const auto root = ids_.find("root");
    if (root == ids_.end() || !defined_[root->second]) {
      throw invalid_argument(context() + " has no rule 'root' (where texts start)");
    }
    for (const auto& [name, id] : ids_) {
      if (!defined_[id]) throw invalid_argument(context() + ": the rule '" + name + "' is used but never defined");
    }
    return root->second;
  }

 private:
  std::string context() const { return "'" + field_ + "'"; }
  [[noreturn]] void malformed(const std::string& expected) const {
    size_t line = 1, column = 1;
    for (size_t k = 0; k < i_ && k < s_.size(); ++k) {
      if (s_[k] == '\n') ++line, column = 1;
      else ++column;
    }
    throw invalid_argument(context() + ": the grammar is not GBNF Fathom reads: expected " + expected + " at line " +
                           std::to_string(line) + ", column " + std::to_string(column));
  }

  // Spaces, tabs and comments; newlines too where `newlines` (inside parentheses, after '|' or
  // '::=', between rules).
  void skip_space(bool newlines) {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
        ++i_;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n' && s_[i_] != '\r') ++i_;
      } else {
        break;
      }
    }
  }

  static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  }

  std::string name() {
    const size_t start = i_;
    while (i_ < s_.size() && name_char(s_[i_])) ++i_;
    if (i_ == start) malformed("a rule name");
    return std::string(s_.substr(start, i_ - start));
  }

  uint32_t rule_id(const std::string& name) {
    const auto [it, added] = ids_.emplace(name, 0);
    if (added) {
      it->second = g_.declare(name);
      defined_.resize(it->second + 1, false);
    }
    return it->second;
  }

  std::vector<Seq> alternatives(bool nested) {
    std::vector<Seq> out;
    while (true) {
      out.push_back(sequence(nested));
      if (i_ < s_.size() && s_[i_] == '|') {
        ++i_;
        skip_space(true);
        continue;
      }
      return out;
    }
  }

  Seq sequence(bool nested) {
    Seq seq;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '|' || c == ')' || c == '\n' || c == '\r') break;
      seq = seq + repeated(element());
      if (seq.size() > kMaxElements) refuse("a grammar this large");
      skip_space(nested);
    }
    return seq;
  }

  Seq element() {
    const char c = s_[i_];
    if (c == '"') return literal();
    if (c == '[') return char_class();
    if (c == '.') {
      ++i_;
      return code_points(normalise({{0, kMaxCodePoint}}));
    }
    if (c == '(') {
      ++i_;
      skip_space(true);
      std::vector<Seq> inner = alternatives(true);
      if (i_ == s_.size() || s_[i_] != ')') malformed("')'");
      ++i_;
      if (inner.size() == 1) return inner[0];
      return GrammarBuilder::ref(g_.rule("(group)", std::move(inner)));
    }
    if (name_char(c)) return GrammarBuilder::ref(rule_id(name()));
    malformed("a literal, a class, '.', '(' or a rule name");
  }

  Seq repeated(Seq atom) {
    skip_space(false);
    if (i_ == s_.size()) return atom;
    int min = 0, max = -1;
    switch (s_[i_]) {
      case '*': ++i_; break;
      case '+': ++i_, min = 1; break;
      case '?': ++i_, max = 1; break;
      case '{': counts(&min, &max); break;
      default: return atom;
    }
    if (max >= 0 && atom.size() * static_cast<size_t>(max + 1) > kMaxElements) refuse("a grammar this large");
    if (atom.size() * static_cast<size_t>(min + 1) > kMaxElements) refuse("a grammar this large");
    Seq seq;
    for (int k = 0; k < min; ++k) seq = seq + atom;
    if (max < 0) {
      const uint32_t r = g_.declare("(repeat)");
      g_.define(r, {Seq{}, atom + GrammarBuilder::ref(r)});
      return seq + GrammarBuilder::ref(r);
    }
    Seq tail;  // at most max - min more: each optional one opens the next
    for (int k = max - min; k > 0; --k) tail = GrammarBuilder::ref(g_.rule("(optional)", {atom + tail, Seq{}}));
    return seq + tail;
  }

  int number() {
    const size_t start = i_;
    int n = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      n = n * 10 + (s_[i_++] - '0');
      if (n > kMaxCount) refuse("a count above " + std::to_string(kMaxCount));
    }
    if (i_ == start) malformed("a count");
    return n;
  }

  // {m}, {m,}, {m,n}, {,n}
  void counts(int* min, int* max) {
    ++i_;
    skip_space(false);
    *min = i_ < s_.size() && s_[i_] == ',' ? 0 : number();
    *max = *min;
    skip_space(false);
    if (i_ < s_.size() && s_[i_] == ',') {
      ++i_;
      skip_space(false);
      *max = i_ < s_.size() && s_[i_] == '}' ? -1 : number();
      skip_space(false);
    }
    if (i_ == s_.size() || s_[i_] != '}') malformed("'}'");
    ++i_;
    if (*max >= 0 && *max < *min) malformed("a count {m,n} with n at least m");
  }

  [[noreturn]] void refuse(const std::string& what) const {
    throw unsupported(context() + ": " + what + " is not supported");
  }

  // One code point of the text at i_ (UTF-8), or an escape.
  uint32_t character(bool in_class) {
    if (i_ == s_.size()) malformed(in_class ? "']'" : "'\"'");
    if (s_[i_] == '\\') {
      ++i_;
      if (i_ == s_.size()) malformed("an escaped character");
      const char e = s_[i_++];
      switch (e) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case '\\': case '"': case '[': case ']': case '-': case '^': return static_cast<uint8_t>(e);
        case 'x': return hex(2);
        case 'u': return hex(4);
        case 'U': return hex(8);
        default: --i_, malformed("an escape (\\n \\r \\t \\\\ \\\" \\[ \\] \\xHH \\uHHHH \\UHHHHHHHH)");
      }
    }
    // Well-formed only (no overlong forms, surrogates or code points past U+10FFFF).
    std::string_view rest = s_.substr(i_);
    if (tokenizer::utf8::scan(rest).kind != tokenizer::utf8::Sequence::Kind::valid) malformed("a UTF-8 character");
    const char32_t c = tokenizer::utf8::next_code_point(rest);
    i_ = s_.size() - rest.size();
    return static_cast<uint32_t>(c);
  }

  uint32_t hex(int digits) {
    uint32_t c = 0;
    for (int k = 0; k < digits; ++k) {
      if (i_ == s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) malformed(std::to_string(digits) + " hex digits");
      const char h = s_[i_++];
      c = c * 16 + static_cast<uint32_t>(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    if (c > kMaxCodePoint || (c >= 0xD800 && c <= 0xDFFF)) malformed("an escape of a Unicode character");
    return c;
  }

  Seq literal() {
    ++i_;  // '"'
    std::string text;
    while (true) {
      if (i_ == s_.size()) malformed("'\"' closing the literal");
      if (s_[i_] == '"') break;
      text += utf8(character(false));
    }
    ++i_;
    return g_.text(text);
  }

  Seq char_class() {
    ++i_;  // '['
    const bool negated = i_ < s_.size() && s_[i_] == '^';
    if (negated) ++i_;
    std::vector<Range> ranges;
    while (true) {
      if (i_ == s_.size()) malformed("']' closing the class");
      if (s_[i_] == ']') break;
      const uint32_t first = character(true);
      uint32_t last = first;
      if (i_ + 1 < s_.size() && s_[i_] == '-' && s_[i_ + 1] != ']') {
        ++i_;
        last = character(true);
        if (last < first) malformed("a range in order");
      }
      ranges.push_back({first, last});
    }
    ++i_;
    std::vector<Range> set = normalise(std::move(ranges));
    if (negated) set = complement(set);
    if (set.empty()) malformed("a class that matches some character");
    return code_points(set);
  }

  // One code point of `set`, as the alternatives of its UTF-8 byte sequences.
  Seq code_points(const std::vector<Range>& set) {
    ByteSet ascii;  // one byte set for all of ASCII
    std::vector<Seq> longer;
    for (Range r : set) {
      if (r.first <= 0x7F) {
        ascii = ascii | ByteSet::range(static_cast<uint8_t>(r.first), static_cast<uint8_t>(std::min<uint32_t>(r.last, 0x7F)));
        if (r.last <= 0x7F) continue;
        r.first = 0x80;
      }
      for (const uint32_t edge : {0x7FFu, 0xFFFFu}) {  // pieces of one UTF-8 length each
        if (r.first <= edge && r.last > edge) {
          utf8_sequences(g_, r.first, edge, longer);
          r.first = edge + 1;
        }
      }
      utf8_sequences(g_, r.first, r.last, longer);
    }
    std::vector<Seq> alternatives;
    if (!ascii.empty()) alternatives.push_back(g_.bytes(ascii));
    for (Seq& s : longer) alternatives.push_back(std::move(s));
    if (alternatives.size() == 1) return alternatives[0];
    return GrammarBuilder::ref(g_.rule("(class)", std::move(alternatives)));
  }

  GrammarBuilder& g_;
  std::string_view s_;
  std::string field_;
  size_t i_ = 0;
  std::map<std::string, uint32_t> ids_;
  std::vector<bool> defined_;
};

}  // namespace

std::shared_ptr<const Grammar> gbnf_grammar(std::string_view text, const std::string& field) {
  GrammarBuilder g;
  const uint32_t root = GbnfReader(g, text, field).read();
  try {
    return std::make_shared<const Grammar>(g.build(root, "gbnf:" + std::string(text)));
  } catch (const Error& e) {
    throw invalid_argument("'" + field + "': " + e.what());  // left recursion, named by rule
  }
}

}  // namespace fathom::engine
