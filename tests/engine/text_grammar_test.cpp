// Structured output by regular expression, by GBNF grammar and by choice (text_grammar.h).
// Regular expressions are judged by Python's re.fullmatch (tests/fixtures/regex/cases.json,
// tools/reference/make_regex_cases.py): every text the grammar accepts is one re.fullmatch
// accepts, every text marked generated is accepted, and every prefix of those stays alive.
// GBNF grammars are judged by the Lark parser on the same grammar in Lark's notation
// (tests/fixtures/gbnf/cases.json, tools/reference/make_gbnf_cases.py): accepted exactly when
// Lark parses, and every prefix of an accepted text alive.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"
#include "fathom/engine/grammar_automaton.h"
#include "fathom/engine/text_grammar.h"

namespace fathom::engine {
namespace {

bool accepts(GrammarAutomaton& a, const std::string& text) {
  const auto state = a.feed(a.start(), text);
  return state != GrammarAutomaton::kDead && a.accepting(state);
}

TEST(RegexGrammar, AcceptsWhatPythonsFullmatchAcceptsAndAllItGenerates) {
  std::ifstream in(std::filesystem::path(FATHOM_FIXTURES_DIR) / "regex" / "cases.json");
  const nlohmann::json cases = nlohmann::json::parse(in);
  ASSERT_GE(cases.size(), 10u);
  size_t accepted = 0, refused = 0;
  for (const auto& c : cases) {
    const std::string pattern = c["pattern"].get<std::string>();
    GrammarAutomaton a(regex_grammar(pattern, "regex"));
    for (const auto& t : c["texts"]) {
      const std::string text = t["text"].get<std::string>();
      const bool ok = accepts(a, text);
      if (ok) {
        ++accepted;
        EXPECT_TRUE(t["valid"].get<bool>()) << pattern << " accepts " << text << ", which re.fullmatch rejects";
      } else {
        ++refused;
      }
      if (t["generated"].get<bool>()) {
        EXPECT_TRUE(ok) << pattern << " refuses " << text;
        auto state = a.start();
        for (size_t i = 0; i < text.size(); ++i) {
          state = a.step(state, static_cast<uint8_t>(text[i]));
          ASSERT_NE(state, GrammarAutomaton::kDead) << pattern << ": " << text << " at byte " << i;
        }
      }
    }
  }
  EXPECT_GT(accepted, 25u);
  EXPECT_GT(refused, 35u);
}

TEST(RegexGrammar, RefusesWhatItCannotGenerateNamingTheField) {
  const auto error_of = [](const std::string& pattern, ErrorCode code) {
    try {
      regex_grammar(pattern, "structured_outputs.regex");
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << pattern << ": " << e.what();
      return std::string(e.what());
    }
    ADD_FAILURE() << "no error for " << pattern;
    return std::string();
  };
  for (const auto& [pattern, code] : std::vector<std::pair<std::string, ErrorCode>>{
           {"(?=a)b", ErrorCode::unsupported}, {"(a)\\1", ErrorCode::unsupported}, {"a^b", ErrorCode::unsupported},
           {"(ab", ErrorCode::invalid_argument}, {"*a", ErrorCode::invalid_argument}, {"a{3,1}", ErrorCode::invalid_argument}}) {
    const std::string message = error_of(pattern, code);
    EXPECT_NE(message.find("'structured_outputs.regex'"), std::string::npos) << message;
    EXPECT_EQ(message.find("JSON schema"), std::string::npos) << message;
  }
}

TEST(GbnfGrammar, AcceptsExactlyWhatLarkParses) {
  std::ifstream in(std::filesystem::path(FATHOM_FIXTURES_DIR) / "gbnf" / "cases.json");
  const nlohmann::json cases = nlohmann::json::parse(in);
  ASSERT_GE(cases.size(), 6u);
  size_t accepted = 0, refused = 0;
  for (const auto& c : cases) {
    const std::string gbnf = c["gbnf"].get<std::string>();
    GrammarAutomaton a(gbnf_grammar(gbnf, "grammar"));
    for (const auto& t : c["texts"]) {
      const std::string text = t["text"].get<std::string>();
      const bool valid = t["valid"].get<bool>();
      EXPECT_EQ(accepts(a, text), valid) << gbnf << "on " << nlohmann::json(text).dump() << " (Lark: " << valid << ")";
      (valid ? accepted : refused) += 1;
      if (!valid) continue;
      auto state = a.start();
      for (size_t i = 0; i < text.size(); ++i) {
        state = a.step(state, static_cast<uint8_t>(text[i]));
        ASSERT_NE(state, GrammarAutomaton::kDead) << gbnf << ": " << text << " at byte " << i;
      }
    }
  }
  EXPECT_GE(accepted, 20u);
  EXPECT_GE(refused, 25u);
}

// Classes over code points become UTF-8 byte sequences: every code point of a range, at each
// boundary of the encoding's lengths, is accepted, and those next to it are not.
TEST(GbnfGrammar, ClassesCoverTheirCodePointsInUtf8) {
  const auto utf8 = [](uint32_t c) {
    std::string s;
    if (c < 0x80) {
      s += static_cast<char>(c);
    } else if (c < 0x800) {
      s += static_cast<char>(0xC0 | (c >> 6)), s += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      s += static_cast<char>(0xE0 | (c >> 12)), s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (c >> 18)), s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((c >> 6) & 0x3F)), s += static_cast<char>(0x80 | (c & 0x3F));
    }
    return s;
  };
  // A range across every length boundary, as \u escapes; its complement.
  GrammarAutomaton in(gbnf_grammar("root ::= [\\x41-\\U00010041]", "grammar"));
  GrammarAutomaton out(gbnf_grammar("root ::= [^\\x41-\\U00010041]", "grammar"));
  for (uint32_t c : {0x41u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFFu, 0x10000u, 0x10041u, 0x1234u, 0x5A5Au}) {
    EXPECT_TRUE(accepts(in, utf8(c))) << std::hex << c;
    EXPECT_FALSE(accepts(out, utf8(c))) << std::hex << c;
  }
  for (uint32_t c : {0x40u, 0x0u, 0x10042u, 0x10FFFFu}) {
    EXPECT_FALSE(accepts(in, utf8(c))) << std::hex << c;
    EXPECT_TRUE(accepts(out, utf8(c))) << std::hex << c;
  }
  // Surrogates are not characters: neither side writes them, nor overlong forms.
  for (const char* bytes : {"\xED\xA0\x80", "\xC1\x81", "\xE0\x81\x81"}) {
    EXPECT_FALSE(accepts(in, bytes));
    EXPECT_FALSE(accepts(out, bytes));
  }
  GrammarAutomaton any(gbnf_grammar("root ::= .", "grammar"));
  EXPECT_TRUE(accepts(any, utf8(0x10FFFF)));
  EXPECT_TRUE(accepts(any, "\n"));
  EXPECT_FALSE(accepts(any, "\xED\xBF\xBF"));
}

TEST(GbnfGrammar, RefusesWhatItCannotReadNamingTheFieldAndPlace) {
  const auto error_of = [](const std::string& gbnf, ErrorCode code) {
    try {
      gbnf_grammar(gbnf, "structured_outputs.grammar");
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << gbnf << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("'structured_outputs.grammar'"), std::string::npos) << e.what();
      return std::string(e.what());
    }
    ADD_FAILURE() << "no error for " << gbnf;
    return std::string();
  };
  EXPECT_NE(error_of("item ::= \"a\"", ErrorCode::invalid_argument).find("no rule 'root'"), std::string::npos);
  EXPECT_NE(error_of("root ::= item", ErrorCode::invalid_argument).find("'item' is used but never defined"), std::string::npos);
  EXPECT_NE(error_of("root ::= \"a\"\nroot ::= \"b\"", ErrorCode::invalid_argument).find("second definition of 'root'"),
            std::string::npos);
  EXPECT_NE(error_of("root ::= root \"a\" | \"b\"", ErrorCode::invalid_argument).find("root"), std::string::npos);
  EXPECT_NE(error_of("root ::= \"a\"\n  \"b\" )", ErrorCode::invalid_argument).find("line 2"), std::string::npos);
  for (const char* bad : {"root = \"a\"", "root ::= \"a", "root ::= [a-", "root ::= (\"a\"", "root ::= \"\\q\"",
                          "root ::= [z-a]", "root ::= \"a\"{3,1}", "root ::= \"\\xZZ\"", "root ::= \"\\uD800\"", "root ::= [^\\x00-\\U0010FFFF]",
                          "root ::= *"}) {
    error_of(bad, ErrorCode::invalid_argument);
  }
  error_of("root ::= \"a\"{1001}", ErrorCode::unsupported);
}

TEST(ChoiceGrammar, AcceptsExactlyTheChoices) {
  GrammarAutomaton a(choice_grammar({"positive", "negative", "neg", "中立"}, "choice"));
  for (const char* text : {"positive", "negative", "neg", "中立"}) EXPECT_TRUE(accepts(a, text)) << text;
  for (const char* text : {"", "pos", "negativ", "negative ", "Positive", "neutral", "中"}) {
    EXPECT_FALSE(accepts(a, text)) << text;
  }
  // "neg" is whole, and may still go on to "negative".
  const auto neg = a.feed(a.start(), "neg");
  EXPECT_TRUE(a.accepting(neg));
  EXPECT_TRUE(a.can_continue(neg));
  EXPECT_FALSE(a.can_continue(a.feed(a.start(), "positive")));
  for (const auto& bad : std::vector<std::vector<std::string>>{{}, {"a", ""}, {"a", "\xff"}}) {
    EXPECT_THROW(choice_grammar(bad, "choice"), Error);
  }
}

}  // namespace
}  // namespace fathom::engine
