// Structured output: JSON schemas compiled to grammars, judged by the `jsonschema` package
// (tests/fixtures/json-schema/cases.json, tools/reference/make_json_schema_cases.py): every text
// a schema's grammar accepts is one jsonschema calls valid, and the texts marked as what the
// grammar generates (schema order, no unlisted members) are accepted. Then what is refused and
// how it is named, and the token filter over DeepSeek-V3's real vocabulary.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"
#include "fathom/engine/grammar_automaton.h"
#include "fathom/engine/grammar_token_filter.h"
#include "fathom/engine/json_prefix.h"
#include "fathom/engine/json_schema_grammar.h"
#include "fathom/engine/token_table.h"
#include "fathom/tokenizer/tokenizer.h"

namespace fathom::engine {
namespace {

nlohmann::ordered_json load_cases() {
  std::ifstream in(std::filesystem::path(FATHOM_FIXTURES_DIR) / "json-schema" / "cases.json");
  return nlohmann::ordered_json::parse(in);
}

bool accepts(GrammarAutomaton& a, const std::string& text) {
  const auto state = a.feed(a.start(), text);
  return state != GrammarAutomaton::kDead && a.accepting(state);
}

TEST(JsonSchemaGrammar, AcceptsOnlyWhatJsonschemaCallsValidAndAllItGenerates) {
  const nlohmann::ordered_json cases = load_cases();
  ASSERT_GE(cases.size(), 10u);
  size_t accepted = 0, refused_valid = 0;
  for (const auto& c : cases) {
    const std::string name = c["name"].get<std::string>();
    GrammarAutomaton a(json_schema_grammar(c["schema"]));
    for (const auto& t : c["texts"]) {
      const std::string text = t["text"].get<std::string>();
      const bool valid = t["valid"].get<bool>();
      const bool ok = accepts(a, text);
      if (ok) {
        ++accepted;
        EXPECT_TRUE(valid) << name << ": the grammar accepts " << text << ", which jsonschema calls invalid";
      }
      if (t["generated"].get<bool>()) {
        EXPECT_TRUE(ok) << name << ": the grammar refuses " << text;
      }
      if (valid && !ok) ++refused_valid;
    }
  }
  EXPECT_GT(accepted, 50u);
  EXPECT_GT(refused_valid, 3u) << "the cases should show valid texts the grammar does not generate (member order...)";
}

// Every prefix of a generated text is alive, and a whole text is accepted only at its end
// (where the schema's value cannot go on).
TEST(JsonSchemaGrammar, PrefixesOfGeneratedTextsStayAlive) {
  for (const auto& c : load_cases()) {
    GrammarAutomaton a(json_schema_grammar(c["schema"]));
    for (const auto& t : c["texts"]) {
      if (!t["generated"].get<bool>()) continue;
      const std::string text = t["text"].get<std::string>();
      auto state = a.start();
      for (size_t i = 0; i < text.size(); ++i) {
        state = a.step(state, static_cast<uint8_t>(text[i]));
        ASSERT_NE(state, GrammarAutomaton::kDead) << c["name"] << ": " << text << " at byte " << i;
      }
    }
  }
}

std::string error_of(std::string_view schema, ErrorCode expected_code) {
  try {
    json_schema_grammar(schema);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), expected_code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error for " << schema;
  return {};
}

TEST(JsonSchemaGrammar, RefusesWhatItCannotGenerateNamingThePlace) {
  struct Case {
    const char* schema;
    ErrorCode code;
    std::vector<const char*> mentions;
  };
  const std::vector<Case> cases = {
      {R"({"type":"object","properties":{"price":{"type":"number","minimum":0.30000000000000004}}})",
       ErrorCode::unsupported, {"'#/properties/price/minimum'", "more than 15 digits"}},
      {R"({"type":"number","minimum":1e-20})", ErrorCode::unsupported, {"'#/minimum'", "more than 15 digits"}},
      {R"({"type":"number","exclusiveMinimum":0.25,"exclusiveMaximum":0.25})", ErrorCode::invalid_argument, {"no number"}},
      {R"({"type":"number","exclusiveMinimum":1,"maximum":1})", ErrorCode::invalid_argument, {"no number"}},
      {R"({"type":"number","multipleOf":0.01})", ErrorCode::unsupported, {"'#/multipleOf'", "whole number up to 1000"}},
      {R"({"type":"integer","multipleOf":5000})", ErrorCode::unsupported, {"'#/multipleOf'", "whole number up to 1000"}},
      {R"({"type":"integer","multipleOf":0})", ErrorCode::invalid_argument, {"'#/multipleOf'", "above 0"}},
      {R"({"type":"integer","multipleOf":7,"minimum":1,"maximum":6})", ErrorCode::invalid_argument, {"no multiple of 7"}},
      {R"({"type":"integer","not":{"const":3}})", ErrorCode::unsupported, {"'#/not'", "'not' is not supported"}},
      {R"({"type":"integer","maximum":98765432109876543210})", ErrorCode::unsupported, {"'#/maximum'", "not exact"}},
      {R"({"type":"integer","minimum":"3"})", ErrorCode::invalid_argument, {"'#/minimum'", "must be a number"}},
      {R"({"type":"integer","exclusiveMinimum":4,"maximum":4.5})", ErrorCode::invalid_argument, {"no integer"}},
      {R"j({"type":"string","pattern":"(a)\\1"})j", ErrorCode::unsupported, {"'#/pattern'", "backreference"}},
      {R"j({"type":"string","pattern":"a(?=b)"})j", ErrorCode::unsupported, {"lookaround"}},
      {R"j({"type":"string","pattern":"\\bword"})j", ErrorCode::unsupported, {"the escape \\b"}},
      {R"j({"type":"string","pattern":"a^b"})j", ErrorCode::unsupported, {"anchor"}},
      {R"j({"type":"string","pattern":"[]a]"})j", ErrorCode::unsupported, {"starting with ']'"}},
      {R"j({"type":"string","pattern":"[é]"})j", ErrorCode::unsupported, {"non-ASCII character in a class"}},
      {R"j({"type":"string","pattern":"a{1001}"})j", ErrorCode::unsupported, {"count above 1000"}},
      {R"j({"type":"string","pattern":"((a{1000}){1000}){1000}"})j", ErrorCode::unsupported, {"a pattern this large"}},
      {R"j({"type":"string","pattern":"^a","maxLength":3})j", ErrorCode::unsupported, {"minLength/maxLength with a pattern"}},
      {R"j({"type":"string","pattern":"(ab"})j", ErrorCode::invalid_argument, {"'#/pattern'", "unclosed '('"}},
      {R"j({"type":"string","pattern":"*a"})j", ErrorCode::invalid_argument, {"nothing to repeat"}},
      {R"j({"type":"string","pattern":"[z-a]"})j", ErrorCode::invalid_argument, {"out of order"}},
      {R"j({"properties":{"d":{"type":"string","format":"date","pattern":"x"}}})j", ErrorCode::unsupported,
       {"'#/properties/d'", "'pattern' with 'format'"}},
      {R"({"oneOf":[{"type":"string"},{"type":"string","maxLength":3}]})", ErrorCode::unsupported,
       {"'#/oneOf'", "branches 0 and 1 of oneOf may both match"}},
      {R"({"oneOf":[{"type":"null"},{"type":"integer"},{"type":"number"}]})", ErrorCode::unsupported, {"branches 1 and 2"}},
      // A branch without `type` lets strings through, though it generates objects.
      {R"({"oneOf":[{"properties":{"a":{}}},{"type":"string"}]})", ErrorCode::unsupported, {"branches 0 and 1"}},
      {R"({"oneOf":[{"type":"object","properties":{"k":{"enum":["a","b"]}},"required":["k"]},
                    {"type":"object","properties":{"k":{"const":"b"}},"required":["k"]}]})",
       ErrorCode::unsupported, {"branches 0 and 1"}},
      {R"({"allOf":[{"type":"string"},{"minLength":2}]})", ErrorCode::unsupported, {"'#/allOf'", "one schema"}},
      {R"({"type":"array","items":{"type":"string"},"uniqueItems":true})", ErrorCode::unsupported,
       {"'#/uniqueItems'", "enum, a const or booleans"}},
      {R"({"type":"array","prefixItems":[{"const":1}],"uniqueItems":true})", ErrorCode::unsupported, {"with prefixItems"}},
      {R"({"type":"array","items":{"enum":[1,2]},"uniqueItems":true,"minItems":3})", ErrorCode::invalid_argument,
       {"more distinct items"}},
      {R"({"type":"array","uniqueItems":"yes"})", ErrorCode::invalid_argument, {"'#/uniqueItems'", "boolean"}},
      {R"({"type":"object","additionalProperties":{"type":"integer"},"minProperties":2})", ErrorCode::unsupported,
       {"'#/minProperties'", "could repeat"}},
      {R"({"type":"object","properties":{"a":{}},"minProperties":2})", ErrorCode::unsupported,
       {"'#/minProperties'", "listed ones"}},
      {R"({"type":"object","properties":{"a":{},"b":{}},"required":["a","b"],"maxProperties":1})",
       ErrorCode::invalid_argument, {"maxProperties"}},
      {R"({"type":"object","additionalProperties":false,"minProperties":1})", ErrorCode::invalid_argument,
       {"none may be present"}},
      {R"({"type":"object","properties":{"n_1":{}},"patternProperties":{"^n_":{"type":"number"}}})",
       ErrorCode::unsupported, {"'#/patternProperties'", "\"n_1\" also matches"}},
      {R"({"type":"object","patternProperties":{"^a":{},"^b":{}}})", ErrorCode::unsupported, {"more than one pattern"}},
      {R"j({"type":"object","patternProperties":{"(a":{}}})j", ErrorCode::invalid_argument,
       {"'#/patternProperties/(a'", "unclosed '('"}},
      {R"({"type":"object","propertyNames":{"type":"integer"}})", ErrorCode::invalid_argument,
       {"'#/propertyNames'", "keys are strings"}},
      {R"({"type":"object","properties":{"A":{}},"required":["A"],"propertyNames":{"pattern":"^[a-z]+$"}})",
       ErrorCode::invalid_argument, {"'#/required'", "propertyNames does not allow"}},
      {R"({"type":"array","items":[{"type":"string"}]})", ErrorCode::unsupported, {"'#/items'", "tuples"}},
      {R"({"type":"string","maxLength":100000})", ErrorCode::unsupported, {"'#/maxLength'", "1024"}},
      {R"({"$ref":"https://example.com/s.json"})", ErrorCode::unsupported, {"'#/$ref'", "inside the schema"}},
      {R"({"$ref":"#/x","type":"string"})", ErrorCode::unsupported, {"'$ref' combined with 'type'"}},
      {R"({"type":"strng"})", ErrorCode::invalid_argument, {"'#/type'", "unknown type \"strng\""}},
      {R"({"type":[]})", ErrorCode::invalid_argument, {"'#/type'", "empty"}},
      {R"({"$ref":"#/$defs/missing"})", ErrorCode::invalid_argument, {"'#/$ref'", "does not name a place"}},
      {R"({"$ref":"#"})", ErrorCode::invalid_argument, {"reaches itself"}},
      {R"({"type":"object","properties":{"a":false}})", ErrorCode::invalid_argument, {"'#/properties/a'", "false"}},
      {R"({"type":"string","minLength":3,"maxLength":2})", ErrorCode::invalid_argument, {"maxLength is below minLength"}},
      {R"({"type":"object","required":["a"],"additionalProperties":false})", ErrorCode::invalid_argument,
       {"'#/required'", "\"a\""}},
      {R"({"enum":[]})", ErrorCode::invalid_argument, {"'#/enum'"}},
      {R"({"type":"string","enum":[1,2]})", ErrorCode::invalid_argument, {"no value of enum/const"}},
      {R"({"type":"object","properties":{"a~b/c":{"type":"string","format":"uri","maxLength":-1}}})",
       ErrorCode::invalid_argument, {"'#/properties/a~0b~1c/maxLength'"}},
      {R"(["not", "a schema"])", ErrorCode::invalid_argument, {"an object or a boolean"}},
      {R"({"type": )", ErrorCode::invalid_argument, {"not JSON"}},
  };
  for (const Case& c : cases) {
    const std::string m = error_of(c.schema, c.code);
    for (const char* mention : c.mentions) EXPECT_NE(m.find(mention), std::string::npos) << c.schema << " -> " << m;
  }
  // Nested past the compiler's bound: refused, not a stack overflow.
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += R"({"type":"array","items":)";
  deep += "true" + std::string(200, '}');
  EXPECT_NE(error_of(deep, ErrorCode::invalid_argument).find("nested more than"), std::string::npos);
}

// Member order follows the schema's text (not alphabetical), as OpenAI's structured outputs do.
TEST(JsonSchemaGrammar, MembersComeInTheSchemasOrder) {
  GrammarAutomaton a(json_schema_grammar(std::string_view(
      R"({"type":"object","properties":{"zeta":{"type":"integer"},"alpha":{"type":"integer"}},"required":["zeta","alpha"]})")));
  EXPECT_TRUE(accepts(a, R"({"zeta":1,"alpha":2})"));
  EXPECT_FALSE(accepts(a, R"({"alpha":2,"zeta":1})"));
}

// With DeepSeek-V3's vocabulary: a valid text as the tokenizer encodes it passes the mask token
// by token; end-of-sequence only at its end; a token that would break the schema is masked.
TEST(GrammarTokenFilter, DeepSeekV3VocabularyPassesASchemasTextAsTheTokenizerEncodesIt) {
  const auto tok = tokenizer::Tokenizer::load(std::filesystem::path(FATHOM_SHARED_DIR) / "models" / "deepseek-v3-tokenizer");
  constexpr size_t kVocab = 129280;
  auto table = std::make_shared<const TokenTable>(TokenTable::from_tokenizer(tok, kVocab));
  GrammarTokenFilter filter(table, json_schema_grammar(std::string_view(R"({
      "type": "object",
      "properties": {"city": {"type": "string"}, "population": {"type": "integer"},
                     "districts": {"type": "array", "items": {"enum": ["north", "south"]}}},
      "required": ["city", "population", "districts"], "additionalProperties": false})")));
  const std::vector<int32_t> eos = {static_cast<int32_t>(*tok.eos_id())};
  const std::string text = "{\"city\": \"K\xC3\xB8" "benhavn \xF0\x9F\x8F\xB0\", \"population\": 660842, \"districts\": [\"north\", \"south\"]}";
  const auto ids = tok.encode(text, false);
  auto state = filter.start();
  std::vector<float> logits(kVocab);
  for (const auto id : ids) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    filter.mask(state, logits, eos);
    ASSERT_TRUE(std::isfinite(logits[id])) << "token " << id << " ('" << tok.token_bytes(id) << "') was masked";
    EXPECT_FALSE(std::isfinite(logits[eos[0]])) << "end-of-sequence before the text was whole";
    state = filter.advance(state, static_cast<int32_t>(id));
    ASSERT_NE(state, GrammarAutomaton::kDead);
  }
  EXPECT_TRUE(filter.accepting(state));
  std::fill(logits.begin(), logits.end(), 0.0f);
  EXPECT_EQ(filter.mask(state, logits, eos), 1u) << "after the object only end-of-sequence";
  // Where "population" must begin, a string cannot.
  auto at_population = filter.start();
  for (const auto id : tok.encode("{\"city\": \"x\", \"population\": ", false)) at_population = filter.advance(at_population, id);
  ASSERT_NE(at_population, GrammarAutomaton::kDead);
  std::fill(logits.begin(), logits.end(), 0.0f);
  filter.mask(at_population, logits, eos);
  const auto quote = tok.encode("\"", false);
  ASSERT_EQ(quote.size(), 1u);
  EXPECT_FALSE(std::isfinite(logits[quote[0]]));
  const auto digits = tok.encode("42", false);
  EXPECT_TRUE(std::isfinite(logits[digits[0]]));
}

// The masks walk the vocabulary in byte order, reading a shared prefix once and skipping the
// tokens after a dead one (TokenTable::tokens_reachable). Against the plain form that reads
// every token on its own, at DeepSeek-V3's vocabulary, for JSON mode's and a schema's states.
TEST(TokenTable, ReachableTokensEqualTheTokenByTokenCheck) {
  const auto tok = tokenizer::Tokenizer::load(std::filesystem::path(FATHOM_SHARED_DIR) / "models" / "deepseek-v3-tokenizer");
  const TokenTable table = TokenTable::from_tokenizer(tok, 129280);
  for (const std::string_view so_far : {"", "{", "{\"a\": \"x", "{\"a\": [1, 2.5e", "{\"a\": {\"b\": tr", "{\"\\u12"}) {
    JsonPrefix state;
    ASSERT_TRUE(state.feed(so_far));
    const auto walked = table.tokens_reachable(state, [](JsonPrefix& s, uint8_t b) { return s.feed(b); });
    const auto plain = table.tokens_where([&](std::string_view t) {
      JsonPrefix next = state;
      return next.feed(t);
    });
    EXPECT_EQ(walked, plain) << "JSON mode after " << so_far;
  }
  GrammarAutomaton a(json_schema_grammar(std::string_view(
      R"j({"type":"object","properties":{"when":{"type":"string","format":"date-time"},"n":{"type":"number","minimum":-5,"maximum":5}}})j")));
  size_t allowed_somewhere = 0;
  for (const std::string_view so_far : {"", "{\"when\": \"20", "{\"when\": \"2026-11-30T0", "{\"n\": -4.", "{\"n\": 5"}) {
    const auto state = a.feed(a.start(), so_far);
    ASSERT_NE(state, GrammarAutomaton::kDead) << so_far;
    const auto walked = table.tokens_reachable(state, [&](GrammarAutomaton::State& s, uint8_t b) {
      s = a.step(s, b);
      return s != GrammarAutomaton::kDead;
    });
    const auto plain = table.tokens_where([&](std::string_view t) { return a.feed(state, t) != GrammarAutomaton::kDead; });
    EXPECT_EQ(walked, plain) << "schema after " << so_far;
    for (uint64_t w : walked) allowed_somewhere += static_cast<size_t>(__builtin_popcountll(w));
  }
  EXPECT_GT(allowed_somewhere, 100u);
}

}  // namespace
}  // namespace fathom::engine
