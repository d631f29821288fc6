#include "jinja_parser.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <initializer_list>

#include "fathom/core/error.h"
#include "jinja_builtins.h"
#include "jinja_lexer.h"

namespace fathom::tokenizer::jinja {

namespace {

// Deep enough for any real template, shallow enough that a hostile one cannot
// exhaust the stack.
constexpr int kMaxNesting = 200;

// The statements Jinja has and chat templates do not need; named so the error
// can say "not supported" rather than "unknown".
constexpr std::string_view kUnsupportedStatements[] = {"macro", "call",   "filter",  "raw",   "include", "import",
                                                        "from",  "extends", "block", "with",  "autoescape", "do"};

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& where) : tokens_(std::move(tokens)), where_(where) {}

  Body parse_template() {
    std::string stopped_by;
    Body body = parse_body({}, stopped_by);
    return body;
  }

 private:
  // ---- token stream -------------------------------------------------------

  const Token& current() const { return tokens_[pos_]; }
  const Token& peek(std::size_t ahead = 1) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }

  bool at_op(std::string_view op) const { return current().kind == Token::Kind::op && current().text == op; }
  bool at_name(std::string_view name) const { return current().kind == Token::Kind::name && current().text == name; }
  bool skip_op(std::string_view op) {
    if (!at_op(op)) return false;
    ++pos_;
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!at_name(name)) return false;
    ++pos_;
    return true;
  }

  [[noreturn]] void fail(const Token& at, const std::string& message) const {
    throw invalid_argument(location(where_, at) + ": " + message);
  }
  [[noreturn]] void fail_unsupported(const Token& at, const std::string& message) const {
    throw unsupported(location(where_, at) + ": " + message);
  }

  static std::string describe(const Token& token) {
    switch (token.kind) {
      case Token::Kind::text: return "template text";
      case Token::Kind::variable_begin: return "'{{'";
      case Token::Kind::variable_end: return "'}}'";
      case Token::Kind::block_begin: return "'{%'";
      case Token::Kind::block_end: return "'%}'";
      case Token::Kind::end: return "the end of the template";
      case Token::Kind::string: return "a string";
      default: return "'" + token.text + "'";
    }
  }

  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail(current(), "expected '" + std::string(op) + "', found " + describe(current()));
  }
  void expect(Token::Kind kind, std::string_view what) {
    if (current().kind != kind) fail(current(), "expected " + std::string(what) + ", found " + describe(current()));
    ++pos_;
  }
  std::string expect_name() {
    if (current().kind != Token::Kind::name) fail(current(), "expected a name, found " + describe(current()));
    return next().text;
  }

  // ---- statements -----------------------------------------------------------

  static Node node_at(Node::Kind kind, const Token& at) {
    Node node;
    node.kind = kind;
    node.line = at.line;
    node.column = at.column;
    return node;
  }

  // Parses nodes until a block tag whose keyword is one of `stops` (left
  // unconsumed after its "{%"); `stopped_by` receives that keyword.
  Body parse_body(std::initializer_list<std::string_view> stops, std::string& stopped_by) {
    Body body;
    while (true) {
      const Token& token = current();
      switch (token.kind) {
        case Token::Kind::end:
          if (stops.size() != 0) {
            fail(token, "the template ends inside a block: expected '{% " + std::string(*stops.begin()) + " %}'");
          }
          return body;
        case Token::Kind::text:
          {
            Node text = node_at(Node::Kind::text, token);
            text.text = token.text;
            body.push_back(std::move(text));
          }
          ++pos_;
          break;
        case Token::Kind::variable_begin: {
          ++pos_;
          Node node = node_at(Node::Kind::output, token);
          node.expr = parse_expression();
          expect(Token::Kind::variable_end, "'}}'");
          body.push_back(std::move(node));
          break;
        }
        case Token::Kind::block_begin: {
          const Token& keyword = peek();
          for (const std::string_view stop : stops) {
            if (keyword.kind == Token::Kind::name && keyword.text == stop) {
              ++pos_;  // the "{%"; the keyword is left for the caller
              stopped_by = keyword.text;
              return body;
            }
          }
          ++pos_;
          body.push_back(parse_statement());
          break;
        }
        default: fail(token, "unexpected " + describe(token));
      }
    }
  }

  Node parse_statement() {
    NestingGuard guard(*this);  // blocks nest too
    const Token& keyword = current();
    if (keyword.kind != Token::Kind::name) fail(keyword, "expected a statement name, found " + describe(keyword));
    const std::string& name = keyword.text;
    if (name == "if") return parse_if();
    if (name == "for") return parse_for();
    if (name == "set") return parse_set();
    if (name == "break" || name == "continue") {
      ++pos_;
      if (loop_depth_ == 0) fail(keyword, "'" + name + "' outside a for loop");
      expect(Token::Kind::block_end, "'%}'");
      return node_at(name == "break" ? Node::Kind::break_loop : Node::Kind::continue_loop, keyword);
    }
    if (name == "generation") return parse_generation();
    for (const std::string_view unsupported_name : kUnsupportedStatements) {
      if (name == unsupported_name) fail_unsupported(keyword, "the '" + name + "' statement is not supported");
    }
    fail(keyword, "unknown statement '" + name + "'");
  }

  Node parse_if() {
    const Token& keyword = next();
    Node node = node_at(Node::Kind::if_chain, keyword);
    std::string stopped_by = "if";
    while (stopped_by == "if" || stopped_by == "elif") {
      ExprPtr condition = parse_or();
      expect(Token::Kind::block_end, "'%}'");
      Body body = parse_body({"elif", "else", "endif"}, stopped_by);
      node.branches.emplace_back(std::move(condition), std::move(body));
      ++pos_;  // the keyword
    }
    parse_else_and_end(node, stopped_by, "endif");
    return node;
  }

  // After a body that stopped at `stopped_by` ("else" or the end keyword, consumed): the else
  // branch up to `end`, then the end tag's "%}".
  void parse_else_and_end(Node& node, std::string& stopped_by, std::string_view end) {
    if (stopped_by == "else") {
      expect(Token::Kind::block_end, "'%}'");
      node.otherwise = parse_body({end}, stopped_by);
      ++pos_;
    }
    expect(Token::Kind::block_end, "'%}'");
  }

  Node parse_for() {
    const Token& keyword = next();
    Node node = node_at(Node::Kind::for_loop, keyword);
    const bool parenthesised = skip_op("(");
    do {
      node.targets.push_back(expect_name());
    } while (skip_op(","));
    if (parenthesised) expect_op(")");
    if (!skip_name("in")) fail(current(), "expected 'in' in a for loop, found " + describe(current()));
    node.expr = parse_or();
    if (skip_name("if")) node.filter = parse_expression();
    if (at_name("recursive")) fail_unsupported(current(), "recursive for loops are not supported");
    expect(Token::Kind::block_end, "'%}'");
    ++loop_depth_;
    std::string stopped_by;
    node.body = parse_body({"else", "endfor"}, stopped_by);
    --loop_depth_;
    ++pos_;
    parse_else_and_end(node, stopped_by, "endfor");
    return node;
  }

  Node parse_set() {
    const Token& keyword = next();
    Node node = node_at(Node::Kind::set, keyword);
    node.targets.push_back(expect_name());
    if (skip_op(".")) node.attribute = expect_name();
    if (at_op(",")) fail_unsupported(current(), "setting several names at once is not supported");
    if (current().kind == Token::Kind::block_end && node.attribute.empty()) {
      ++pos_;
      node.kind = Node::Kind::set_block;
      std::string stopped_by;
      node.body = parse_body({"endset"}, stopped_by);
      ++pos_;
      expect(Token::Kind::block_end, "'%}'");
      return node;
    }
    expect_op("=");
    node.expr = parse_expression();
    expect(Token::Kind::block_end, "'%}'");
    return node;
  }

  // transformers' {% generation %} marks the assistant's text for training
  // masks; for rendering its body is plain template.
  Node parse_generation() {
    const Token& keyword = next();
    expect(Token::Kind::block_end, "'%}'");
    Node node = node_at(Node::Kind::if_chain, keyword);
    std::string stopped_by;
    Body body = parse_body({"endgeneration"}, stopped_by);
    ++pos_;
    expect(Token::Kind::block_end, "'%}'");
    ExprPtr always = literal(keyword, Value(true));
    node.branches.emplace_back(std::move(always), std::move(body));
    return node;
  }

  // ---- expressions ----------------------------------------------------------

  ExprPtr make(Expr::Kind kind, const Token& at, std::string name = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->column = at.column;
    e->name = std::move(name);
    return e;
  }

  ExprPtr binary(const Token& at, std::string op, ExprPtr left, ExprPtr right) {
    ExprPtr e = make(Expr::Kind::binary, at, std::move(op));
    e->operands.push_back(std::move(left));
    e->operands.push_back(std::move(right));
    return e;
  }

  struct NestingGuard {
    explicit NestingGuard(Parser& p) : parser(p) {
      if (++parser.nesting_ > kMaxNesting) parser.fail(parser.current(), "nested too deeply (more than " + std::to_string(kMaxNesting) + " levels)");
    }
    ~NestingGuard() { --parser.nesting_; }
    Parser& parser;
  };

  ExprPtr parse_expression() {
    NestingGuard guard(*this);
    ExprPtr value = parse_or();
    while (at_name("if")) {
      const Token& at = next();
      ExprPtr e = make(Expr::Kind::conditional, at);
      ExprPtr condition = parse_or();
      ExprPtr otherwise = skip_name("else") ? parse_expression() : nullptr;
      e->operands.push_back(std::move(value));
      e->operands.push_back(std::move(condition));
      e->operands.push_back(std::move(otherwise));
      value = std::move(e);
    }
    return value;
  }

  // One level of left-associative binary operators: operands parsed by `operand`, joined by any
  // of `ops` (keywords such as "or", or operator tokens such as "+").
  template <typename Operand>
  ExprPtr parse_left_associative(std::initializer_list<std::string_view> ops, Operand operand) {
    ExprPtr left = operand();
    while (true) {
      const Token& at = current();
      const bool joins = (at.kind == Token::Kind::name || at.kind == Token::Kind::op) &&
                         std::find(ops.begin(), ops.end(), at.text) != ops.end();
      if (!joins) return left;
      ++pos_;
      left = binary(at, at.text, std::move(left), operand());
    }
  }

  ExprPtr parse_or() {
    return parse_left_associative({"or"}, [this] { return parse_and(); });
  }

  ExprPtr parse_and() {
    return parse_left_associative({"and"}, [this] { return parse_not(); });
  }

  ExprPtr parse_not() {
    if (at_name("not")) {
      NestingGuard guard(*this);
      const Token& at = next();
      ExprPtr e = make(Expr::Kind::unary, at, "not");
      e->operands.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr left = parse_math1();
    bool compared = false;
    while (true) {
      std::string op;
      const Token& at = current();
      if (at.kind == Token::Kind::op &&
          (at.text == "==" || at.text == "!=" || at.text == "<" || at.text == "<=" || at.text == ">" || at.text == ">=")) {
        op = at.text;
        ++pos_;
      } else if (at_name("in")) {
        op = "in";
        ++pos_;
      } else if (at_name("not") && peek().kind == Token::Kind::name && peek().text == "in") {
        op = "not in";
        pos_ += 2;
      } else {
        return left;
      }
      if (compared) fail_unsupported(at, "chained comparisons (a < b < c) are not supported");
      compared = true;
      left = binary(at, op, std::move(left), parse_math1());
    }
  }

  ExprPtr parse_math1() {
    return parse_left_associative({"+", "-"}, [this] { return parse_concat(); });
  }

  ExprPtr parse_concat() {
    return parse_left_associative({"~"}, [this] { return parse_math2(); });
  }

  ExprPtr parse_math2() {
    return parse_left_associative({"*", "/", "//", "%"}, [this] { return parse_pow(); });
  }

  ExprPtr parse_pow() {
    return parse_left_associative({"**"}, [this] { return parse_unary(true); });
  }

  // As Jinja: a sign binds tighter than filters and tests that follow, so
  // "-x | abs" is "(-x) | abs".
  ExprPtr parse_unary(bool with_filter) {
    NestingGuard guard(*this);
    ExprPtr node;
    if (at_op("-") || at_op("+")) {
      const Token& at = next();
      node = make(Expr::Kind::unary, at, at.text);
      node->operands.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& token = current();
    switch (token.kind) {
      case Token::Kind::name: {
        ++pos_;
        if (token.text == "true" || token.text == "True") return literal(token, Value(true));
        if (token.text == "false" || token.text == "False") return literal(token, Value(false));
        if (token.text == "none" || token.text == "None") return literal(token, Value(None{}));
        return make(Expr::Kind::name, token, token.text);
      }
      case Token::Kind::string: {
        // Adjacent string literals concatenate, as in Python.
        std::string text;
        while (current().kind == Token::Kind::string) text += next().text;
        return literal(token, Value(std::move(text)));
      }
      case Token::Kind::integer: {
        ++pos_;
        std::int64_t value = 0;
        const auto [end, ec] = std::from_chars(token.text.data(), token.text.data() + token.text.size(), value);
        if (ec != std::errc() || end != token.text.data() + token.text.size()) {
          fail_unsupported(token, "integer literal " + token.text + " does not fit in 64 bits");
        }
        return literal(token, Value(value));
      }
      case Token::Kind::floating: {
        ++pos_;
        return literal(token, Value(std::strtod(token.text.c_str(), nullptr)));
      }
      case Token::Kind::op:
        if (token.text == "(") {
          ++pos_;
          if (skip_op(")")) return make(Expr::Kind::list, token);  // () : an empty tuple
          ExprPtr first = parse_expression();
          if (skip_op(")")) return first;
          // A tuple; Fathom represents it as a list.
          ExprPtr tuple = make(Expr::Kind::list, token);
          tuple->operands.push_back(std::move(first));
          while (skip_op(",")) {
            if (at_op(")")) break;
            tuple->operands.push_back(parse_expression());
          }
          expect_op(")");
          return tuple;
        }
        if (token.text == "[") {
          ++pos_;
          ExprPtr list = make(Expr::Kind::list, token);
          while (!at_op("]")) {
            list->operands.push_back(parse_expression());
            if (!skip_op(",")) break;
          }
          expect_op("]");
          return list;
        }
        if (token.text == "{") {
          ++pos_;
          ExprPtr dict = make(Expr::Kind::dict, token);
          while (!at_op("}")) {
            dict->operands.push_back(parse_expression());
            expect_op(":");
            dict->operands.push_back(parse_expression());
            if (!skip_op(",")) break;
          }
          expect_op("}");
          return dict;
        }
        [[fallthrough]];
      default: fail(token, "unexpected " + describe(token) + " in an expression");
    }
  }

  ExprPtr literal(const Token& at, Value value) {
    ExprPtr e = make(Expr::Kind::literal, at);
    e->value = std::move(value);
    return e;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (at_op(".")) {
        const Token& at = next();
        if (current().kind == Token::Kind::integer) {
          // x.0 is x[0] in Jinja.
          ExprPtr index = parse_primary();
          ExprPtr e = make(Expr::Kind::subscript, at);
          e->operands.push_back(std::move(node));
          e->operands.push_back(std::move(index));
          node = std::move(e);
          continue;
        }
        ExprPtr e = make(Expr::Kind::attribute, at, expect_name());
        e->operands.push_back(std::move(node));
        node = std::move(e);
      } else if (at_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (at_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr object) {
    const Token& at = next();  // "["
    std::vector<ExprPtr> parts(3);
    std::size_t part = 0;
    bool is_slice = false;
    while (!at_op("]")) {
      if (skip_op(":")) {
        is_slice = true;
        if (++part > 2) fail(at, "a slice has at most three parts");
        continue;
      }
      if (parts[part]) fail(current(), "expected ':' or ']' in a subscript");
      parts[part] = parse_expression();
    }
    expect_op("]");
    ExprPtr e = make(is_slice ? Expr::Kind::slice : Expr::Kind::subscript, at);
    e->operands.push_back(std::move(object));
    if (!is_slice) {
      if (!parts[0]) fail(at, "empty subscript");
      e->operands.push_back(std::move(parts[0]));
    } else {
      for (ExprPtr& p : parts) e->operands.push_back(std::move(p));
    }
    return e;
  }

  // Arguments of a call, filter or test: positional, then name=value.
  void parse_arguments(Expr& e) {
    expect_op("(");
    while (!at_op(")")) {
      if (at_op("*") || at_op("**")) fail_unsupported(current(), "*args and **kwargs are not supported");
      if (current().kind == Token::Kind::name && peek().kind == Token::Kind::op && peek().text == "=") {
        std::string keyword = next().text;
        ++pos_;
        e.keywords.emplace_back(std::move(keyword), parse_expression());
      } else {
        if (!e.keywords.empty()) fail(current(), "positional argument after a keyword argument");
        e.operands.push_back(parse_expression());
      }
      if (!skip_op(",")) break;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    ExprPtr e = make(Expr::Kind::call, current());
    e->operands.push_back(std::move(callee));
    parse_arguments(*e);
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (at_op("|")) {
        next();
        const Token& at = current();
        ExprPtr e = make(Expr::Kind::filter, at, expect_name());
        if (!is_filter(e->name)) fail_unsupported(at, "filter '" + e->name + "' is not supported");
        e->operands.push_back(std::move(node));
        if (at_op("(")) parse_arguments(*e);
        node = std::move(e);
      } else if (at_name("is")) {
        next();
        const bool negated = skip_name("not");
        const Token& at = current();
        ExprPtr e = make(Expr::Kind::test, at, expect_name());
        e->negated = negated;
        if (!is_test(e->name)) fail_unsupported(at, "test '" + e->name + "' is not supported");
        e->operands.push_back(std::move(node));
        if (at_op("(")) {
          parse_arguments(*e);
        } else if (starts_test_argument()) {
          e->operands.push_back(parse_postfix(parse_primary()));
        }
        node = std::move(e);
      } else if (at_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  // "x is divisibleby 3": a test may take one argument without parentheses.
  bool starts_test_argument() const {
    const Token& t = current();
    if (t.kind == Token::Kind::name) return t.text != "else" && t.text != "or" && t.text != "and";
    return t.kind == Token::Kind::string || t.kind == Token::Kind::integer || t.kind == Token::Kind::floating ||
           (t.kind == Token::Kind::op && (t.text == "[" || t.text == "{"));
  }

  std::vector<Token> tokens_;
  const std::string& where_;
  std::size_t pos_ = 0;
  int loop_depth_ = 0;
  int nesting_ = 0;
};

}  // namespace

Body parse(std::string_view source, const std::string& where) { return Parser(lex(source, where), where).parse_template(); }

}  // namespace fathom::tokenizer::jinja
