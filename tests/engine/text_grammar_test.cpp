// Structured output by regular expression and by choice (text_grammar.h). Regular expressions
// are judged by Python's re.fullmatch (tests/fixtures/regex/cases.json,
// tools/reference/make_regex_cases.py): every text the grammar accepts is one re.fullmatch
// accepts, every text marked generated is accepted, and every prefix of those stays alive.
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
