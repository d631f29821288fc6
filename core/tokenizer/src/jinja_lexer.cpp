#include "jinja_lexer.h"

#include <cctype>

#include "fathom/core/error.h"
#include "jinja_text.h"

namespace fathom::tokenizer::jinja {

namespace {

// "\r\n" and "\r" become "\n", and one final newline is dropped, as Jinja's
// lexer does before anything else (keep_trailing_newline is off).
std::string normalise_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(std::string source, const std::string& where) : source_(std::move(source)), where_(where) {}

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < source_.size()) {
      const std::size_t open = find_tag_open(pos_);
      if (open == std::string::npos) {
        push_text(source_.substr(pos_));
        pos_ = source_.size();
        break;
      }
      const char type = source_[open + 1];  // '{', '%' or '#'
      const char sign = open + 2 < source_.size() ? source_[open + 2] : '\0';
      std::string text = source_.substr(pos_, open - pos_);
      if (sign == '-') {
        text.resize(rstrip_end(text));
      } else if (sign != '+' && type != '{') {
        // lstrip_blocks: indentation alone on the line before a block or comment tag goes.
        const std::size_t line_start = text.rfind('\n') + 1;  // npos + 1 == 0
        const std::string_view indentation = std::string_view(text).substr(line_start);
        if ((line_start > 0 || line_starting) && !indentation.empty() && is_all_whitespace(indentation)) {
          text.resize(line_start);
        }
      }
      push_text(text);
      advance_to(open);
      const Token opener = make(type == '{' ? Token::Kind::variable_begin : Token::Kind::block_begin, "");
      advance_to(open + 2 + ((sign == '-' || sign == '+') ? 1 : 0));
      if (type == '#') {
        line_starting = skip_comment(opener);
      } else {
        tokens_.push_back(opener);
        line_starting = lex_tag(opener, type == '{');
      }
    }
    tokens_.push_back(make(Token::Kind::end, ""));
    return std::move(tokens_);
  }

 private:
  std::size_t find_tag_open(std::size_t from) const {
    for (std::size_t i = source_.find('{', from); i != std::string::npos; i = source_.find('{', i + 1)) {
      if (i + 1 < source_.size() && (source_[i + 1] == '{' || source_[i + 1] == '%' || source_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  void push_text(std::string text) {
    if (text.empty()) return;
    Token token = make(Token::Kind::text, std::move(text));
    tokens_.push_back(std::move(token));
  }

  // Moves pos_ forward, keeping line and column in step.
  void advance_to(std::size_t target) {
    for (; pos_ < target; ++pos_) {
      if (source_[pos_] == '\n') {
        ++line_;
        column_ = 1;
      } else if ((static_cast<unsigned char>(source_[pos_]) & 0xC0) != 0x80) {
        ++column_;
      }
    }
  }

  Token make(Token::Kind kind, std::string text) const { return Token{kind, std::move(text), line_, column_}; }

  [[noreturn]] void fail(const std::string& message) const {
    throw invalid_argument(where_ + ":" + std::to_string(line_) + ":" + std::to_string(column_) + ": " + message);
  }

  bool starts_with(std::string_view s) const { return std::string_view(source_).substr(pos_).starts_with(s); }

  // After a closing tag: "-" strips all whitespace that follows; a block tag
  // (not "+"-marked) drops one newline (trim_blocks). Returns whether the last
  // character consumed was a newline (Jinja's line_starting).
  bool close_tag(std::size_t tag_length, char sign, bool is_block) {
    advance_to(pos_ + tag_length);
    bool ended_with_newline = false;
    if (sign == '-') {
      const std::size_t end = pos_ + lstrip_begin(std::string_view(source_).substr(pos_));
      ended_with_newline = end > pos_ && source_[end - 1] == '\n';
      advance_to(end);
    } else if (sign != '+' && is_block && pos_ < source_.size() && source_[pos_] == '\n') {
      advance_to(pos_ + 1);
      ended_with_newline = true;
    }
    return ended_with_newline;
  }

  bool skip_comment(const Token& opener) {
    if (const std::size_t end = source_.find("#}", pos_); end != std::string::npos) {
      const char sign = end > pos_ && (source_[end - 1] == '-' || source_[end - 1] == '+') ? source_[end - 1] : '\0';
      advance_to(sign ? end - 1 : end);
      return close_tag(sign ? 3 : 2, sign, true);
    }
    throw invalid_argument(location(where_, opener) + ": comment is never closed ('#}' missing)");
  }

  // Tokens of one {{ ... }} or {% ... %}, up to and including its end.
  bool lex_tag(const Token& opener, bool is_variable) {
    const std::string_view close = is_variable ? "}}" : "%}";
    std::vector<char> brackets;
    while (true) {
      if (pos_ >= source_.size()) {
        throw invalid_argument(location(where_, opener) + ": tag is never closed ('" + std::string(close) + "' missing)");
      }
      if (brackets.empty()) {
        for (const char sign : {'-', '+'}) {
          if (source_[pos_] == sign && std::string_view(source_).substr(pos_ + 1).starts_with(close)) {
            tokens_.push_back(make(is_variable ? Token::Kind::variable_end : Token::Kind::block_end, ""));
            return close_tag(3, sign, !is_variable);
          }
        }
        if (starts_with(close)) {
          tokens_.push_back(make(is_variable ? Token::Kind::variable_end : Token::Kind::block_end, ""));
          return close_tag(2, '\0', !is_variable);
        }
      }
      if (const std::size_t space = whitespace_length(std::string_view(source_).substr(pos_))) {
        advance_to(pos_ + space);
        continue;
      }
      const char c = source_[pos_];
      if (is_digit(c)) {
        lex_number();
      } else if (is_name_start(c)) {
        std::size_t end = pos_;
        while (end < source_.size() && is_name_char(source_[end])) ++end;
        tokens_.push_back(make(Token::Kind::name, source_.substr(pos_, end - pos_)));
        advance_to(end);
      } else if (c == '\'' || c == '"') {
        lex_string();
      } else {
        lex_operator(brackets);
      }
    }
  }

  void lex_number() {
    std::size_t end = pos_;
    const auto digits = [&] {
      while (end < source_.size() && (is_digit(source_[end]) || (source_[end] == '_' && end + 1 < source_.size() &&
                                                                   is_digit(source_[end + 1])))) {
        ++end;
      }
    };
    digits();
    bool is_float = false;
    if (end + 1 < source_.size() && source_[end] == '.' && is_digit(source_[end + 1])) {
      is_float = true;
      ++end;
      digits();
    }
    if (end < source_.size() && (source_[end] == 'e' || source_[end] == 'E')) {
      std::size_t exp = end + 1;
      if (exp < source_.size() && (source_[exp] == '+' || source_[exp] == '-')) ++exp;
      if (exp < source_.size() && is_digit(source_[exp])) {
        is_float = true;
        end = exp;
        digits();
      }
    }
    std::string text;
    for (const char c : source_.substr(pos_, end - pos_)) {
      if (c != '_') text += c;
    }
    tokens_.push_back(make(is_float ? Token::Kind::floating : Token::Kind::integer, std::move(text)));
    advance_to(end);
  }

  // A Python string literal: the escapes of Python's unicode-escape codec.
  void lex_string() {
    const char quote = source_[pos_];
    std::string value;
    std::size_t i = pos_ + 1;
    while (true) {
      if (i >= source_.size()) fail("string literal is never closed");
      const char c = source_[i];
      if (c == quote) break;
      if (c != '\\' || i + 1 >= source_.size()) {
        value += c;
        ++i;
        continue;
      }
      const char e = source_[i + 1];
      i += 2;
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case '\n': break;  // a backslash at the end of a line continues it
        case 'x':
        case 'u':
        case 'U': {
          const std::size_t count = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (i + count > source_.size()) fail("truncated \\" + std::string(1, e) + " escape in a string literal");
          unsigned long cp = 0;
          for (std::size_t k = 0; k < count; ++k) {
            const char h = source_[i + k];
            if (!std::isxdigit(static_cast<unsigned char>(h))) {
              fail("truncated \\" + std::string(1, e) + " escape in a string literal");
            }
            cp = cp * 16 + static_cast<unsigned long>(std::isdigit(static_cast<unsigned char>(h))
                                                          ? h - '0'
                                                          : std::tolower(static_cast<unsigned char>(h)) - 'a' + 10);
          }
          if (!append_utf8(value, cp)) fail("escape in a string literal is not a Unicode scalar value");
          i += count;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            unsigned long cp = static_cast<unsigned long>(e - '0');
            for (int k = 0; k < 2 && i < source_.size() && source_[i] >= '0' && source_[i] <= '7'; ++k, ++i) {
              cp = cp * 8 + static_cast<unsigned long>(source_[i] - '0');
            }
            append_utf8(value, cp);
          } else {
            // Python keeps an unknown escape as written.
            value += '\\';
            value += e;
          }
      }
    }
    tokens_.push_back(make(Token::Kind::string, std::move(value)));
    advance_to(i + 1);
  }

  void lex_operator(std::vector<char>& brackets) {
    static constexpr std::string_view kTwo[] = {"**", "//", "==", "!=", ">=", "<="};
    for (const std::string_view op : kTwo) {
      if (starts_with(op)) {
        tokens_.push_back(make(Token::Kind::op, std::string(op)));
        advance_to(pos_ + 2);
        return;
      }
    }
    const char c = source_[pos_];
    if (std::string_view("+-/*%~[](){}><=.:|,").find(c) == std::string_view::npos) {
      fail(std::string("unexpected character '") + c + "' in a tag");
    }
    if (c == '(' || c == '[' || c == '{') brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty()) fail(std::string("unexpected '") + c + "'");
      if (brackets.back() != c) fail(std::string("unexpected '") + c + "', expected '" + brackets.back() + "'");
      brackets.pop_back();
    }
    tokens_.push_back(make(Token::Kind::op, std::string(1, c)));
    advance_to(pos_ + 1);
  }

  std::string source_;
  const std::string& where_;
  std::size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex(std::string_view source, const std::string& where) {
  return Lexer(normalise_newlines(source), where).run();
}

std::string location(const std::string& where, const Token& token) {
  return where + ":" + std::to_string(token.line) + ":" + std::to_string(token.column);
}

}  // namespace fathom::tokenizer::jinja
