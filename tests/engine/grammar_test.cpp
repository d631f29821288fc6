// The byte-level grammar and its lazily built automaton: what the builder refuses, a small
// grammar checked exhaustively against a direct count, flat stacks for repetition, bounded
// nesting, and the JSON rules checked against JSON mode's recogniser (itself fuzzed against
// nlohmann::json) on random texts.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fathom/core/error.h"
#include "fathom/engine/grammar.h"
#include "fathom/engine/grammar_automaton.h"
#include "fathom/engine/json_prefix.h"
#include "fathom/engine/json_schema_grammar.h"

namespace fathom::engine {
namespace {

using Seq = GrammarBuilder::Seq;

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GrammarBuilder, RefusesUndefinedRulesAndLeftRecursionNamingTheRule) {
  {
    GrammarBuilder g;
    const uint32_t missing = g.declare("missing");
    const uint32_t root = g.rule("root", {g.text("a") + GrammarBuilder::ref(missing)});
    EXPECT_NE(message_of([&] { g.build(root); }).find("'missing' is used but never defined"), std::string::npos);
  }
  {
    // list ::= ε | item list ... fine; expr ::= opt expr "x" with opt nullable is left recursion.
    GrammarBuilder g;
    const uint32_t opt = g.rule("opt", {Seq{}, g.text("-")});
    const uint32_t expr = g.declare("expr");
    g.define(expr, {GrammarBuilder::ref(opt) + GrammarBuilder::ref(expr) + g.text("x"), g.text("y")});
    const std::string m = message_of([&] { g.build(expr); });
    EXPECT_NE(m.find("left recursion: expr -> expr"), std::string::npos) << m;
  }
  GrammarBuilder g;
  EXPECT_THROW(g.bytes(ByteSet{}), Error);
  const uint32_t r = g.rule("r", {g.text("a")});
  EXPECT_THROW(g.define(r, {g.text("b")}), Error) << "defined twice";
}

// A grammar compiled on its own, imported into a larger one: the larger one reads the same
// sentences of it between its own text, and nothing the part alone refuses.
TEST(GrammarBuilder, ImportedGrammarKeepsItsSentences) {
  const auto schema = json_schema_grammar(std::string_view(
      R"({"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 12}}, "required": ["n"]})"));
  GrammarBuilder g;
  const uint32_t part = import_grammar(g, *schema, "args");
  const uint32_t twice = import_grammar(g, *schema, "again");  // rules copied twice do not clash
  const uint32_t root = g.rule("root", {g.text("<") + GrammarBuilder::ref(part) + g.text(">"),
                                        g.text("[") + GrammarBuilder::ref(twice) + g.text("]")});
  GrammarAutomaton whole(std::make_shared<const Grammar>(g.build(root)));
  GrammarAutomaton alone(schema);
  for (const std::string body : {R"({"n": 3})", R"({"n":12})", R"({"n": 0})", R"({"n": 13})", R"({})", R"({"n": 1.5})",
                                 R"({"n": 7, "m": 1})", "{\"n\"\n: 5}"}) {
    const auto a = alone.feed(alone.start(), body);
    const bool valid = a != GrammarAutomaton::kDead && alone.accepting(a);
    for (const auto& [open, close] : {std::pair{"<", ">"}, std::pair{"[", "]"}}) {
      const auto w = whole.feed(whole.start(), open + body + close);
      EXPECT_EQ(w != GrammarAutomaton::kDead && whole.accepting(w), valid) << open << body << close;
    }
  }
  const auto mixed = whole.feed(whole.start(), R"(<{"n": 3}])");
  EXPECT_TRUE(mixed == GrammarAutomaton::kDead || !whole.accepting(mixed));
}

// Balanced parentheses, S ::= ε | "(" S ")" S, against a running count, for every text of up
// to 10 bytes over "()x": accepted byte by byte exactly while the count never goes negative, a
// whole sentence exactly when it ends at zero.
TEST(GrammarAutomaton, BalancedParenthesesMatchACountOnEveryShortText) {
  GrammarBuilder g;
  const uint32_t s = g.declare("S");
  g.define(s, {Seq{}, g.text("(") + GrammarBuilder::ref(s) + g.text(")") + GrammarBuilder::ref(s)});
  GrammarAutomaton a(std::make_shared<const Grammar>(g.build(s)));
  const std::string alphabet = "()x";
  size_t texts = 0;
  for (int length = 0; length <= 10; ++length) {
    std::vector<int> digits(static_cast<size_t>(length), 0);
    while (true) {
      auto state = a.start();
      int depth = 0;
      bool alive = true;
      for (int d : digits) {
        const char c = alphabet[static_cast<size_t>(d)];
        depth += c == '(' ? 1 : c == ')' ? -1 : 0;
        const bool expected = alive && c != 'x' && depth >= 0;
        state = a.step(state, static_cast<uint8_t>(c));
        ASSERT_EQ(state != GrammarAutomaton::kDead, expected);
        alive = expected;
        if (!alive) break;
      }
      if (alive) {
        EXPECT_EQ(a.accepting(state), depth == 0);
      }
      ++texts;
      int i = 0;
      while (i < length && ++digits[static_cast<size_t>(i)] == 3) digits[static_cast<size_t>(i++)] = 0;
      if (i == length) break;
    }
  }
  EXPECT_GT(texts, 88000u);
}

// Repetition written as right recursion (a tail call) keeps the stacks flat: ten thousand
// digits reach no new state after the first few.
TEST(GrammarAutomaton, TailCallsKeepRepetitionToAFewStates) {
  GrammarBuilder g;
  const uint32_t digits = g.declare("digits");
  g.define(digits, {g.bytes(ByteSet::range('0', '9')), g.bytes(ByteSet::range('0', '9')) + GrammarBuilder::ref(digits)});
  GrammarAutomaton a(std::make_shared<const Grammar>(g.build(digits)));
  auto state = a.feed(a.start(), std::string(10000, '7'));
  ASSERT_NE(state, GrammarAutomaton::kDead);
  EXPECT_TRUE(a.accepting(state));
  EXPECT_TRUE(a.can_continue(state));
  EXPECT_LE(a.states(), 3u);
  EXPECT_EQ(a.step(state, 'x'), GrammarAutomaton::kDead);
}

// Nesting deeper than the stacks may grow is refused, not a crash; within it, fine.
TEST(GrammarAutomaton, DeepNestingIsRefusedAtTheStackBound) {
  GrammarAutomaton a(json_schema_grammar(std::string_view("{}")));
  auto state = a.feed(a.start(), std::string(50, '['));
  ASSERT_NE(state, GrammarAutomaton::kDead);
  state = a.feed(state, std::string(50, ']'));
  EXPECT_TRUE(a.accepting(state));
  EXPECT_EQ(a.feed(a.start(), std::string(2000, '[')), GrammarAutomaton::kDead);
}

TEST(GrammarAutomaton, StateBoundThrowsResourceExhausted) {
  GrammarAutomaton a(json_schema_grammar(std::string_view("{}")), 8);
  try {
    a.feed(a.start(), R"({"a": [1, 2, {"b": "c"}]})");
    FAIL() << "eight states were enough";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::resource_exhausted);
  }
}

// The schema {"type": "object"} generates what JSON mode does: the same rules (object at the
// top, whitespace runs, number digits, UTF-8, escapes, surrogate pairs), written once as a
// recogniser and once as a grammar. Random texts over JSON's characters, prefix by prefix: both
// accept the same bytes and call the same texts whole.
TEST(GrammarAutomaton, ObjectSchemaAgreesWithJsonModeOnRandomTexts) {
  GrammarAutomaton a(json_schema_grammar(std::string_view(R"({"type": "object"})")));
  const std::vector<std::string> pieces = {
      "{", "}", "[", "]", ",", ":", "\"", "\"a\"", "\\", "\\u", "d83d", "\\udc00", "D800", "00e9", "u", "n", "t",
      "0", "1", "9", "-", ".", "e", "E", "+", " ", "\n", "\t", "\r", "   ", "true", "null", "fals", "e", "x",
      "\xC3\xA9", "\xC3", "\xA9", "\xE2\x82\xAC", "\xED\xA0\x80", "\xF0\x9F\xA6\x99", "\xF4\x90", "\xC0\x80", "\x01",
      "12345678901234567890", "1e99", "e123", "\xE0\x80", "\xE0\xA0\x80", "\xF0\x80", "\xF4\x8F\xBF\xBF",
      "\xEF\xBF\xBF", "\xED\x9F\xBF", std::string(30, ' ')};
  std::mt19937 rng(20261130);
  size_t agreed_bytes = 0, whole = 0;
  for (int text = 0; text < 100000; ++text) {
    std::string s;
    // Start most texts well, so that they get deep before they break.
    if (rng() % 4 != 0) s = "{\"k\":";
    const int n = static_cast<int>(rng() % 14);
    for (int i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
    JsonPrefix p;
    auto state = a.start();
    for (size_t i = 0; i < s.size(); ++i) {
      const bool json_ok = p.feed(static_cast<uint8_t>(s[i]));
      state = a.step(state, static_cast<uint8_t>(s[i]));
      ASSERT_EQ(state != GrammarAutomaton::kDead, json_ok) << "text '" << s << "' at byte " << i;
      if (!json_ok) break;
      ASSERT_EQ(a.accepting(state), p.complete()) << "text '" << s << "' after byte " << i;
      ++agreed_bytes;
      whole += p.complete() ? 1 : 0;
    }
  }
  std::printf("%zu bytes agreed, %zu prefixes whole\n", agreed_bytes, whole);
  EXPECT_GT(agreed_bytes, 400000u);
  EXPECT_GT(whole, 50u) << "too few random texts were whole objects for the comparison to mean much";
}

}  // namespace
}  // namespace fathom::engine
