// Structured output's schema compiler and grammar automaton, on arbitrary bytes.
//
// Input: a schema, a NUL byte, then a text. The schema compiles or is refused with
// fathom::Error; a compiled one's automaton reads the text within its bounds (or throws
// resource_exhausted). Every prefix it keeps alive must be a prefix of JSON to nlohmann::json,
// and a text it accepts whole must parse. (Whether it is valid to the schema is what
// tests/engine/json_schema_test.cpp checks against jsonschema.)
//
// Without a NUL the whole input is a text for the schema {"type": "object"}, whose grammar must
// agree with JSON mode's recogniser byte by byte (itself fuzzed against nlohmann: json_prefix),
// within the nesting both allow.
#include <algorithm>
#include <memory>
#include <string>

#include "../../engine/json_oracle.h"
#include "fathom/engine/grammar_automaton.h"
#include "fathom/engine/json_prefix.h"
#include "fathom/engine/json_schema_grammar.h"
#include "fuzz_support.h"

namespace {

using fathom::engine::GrammarAutomaton;

// Few states: a hostile schema must hit the bound quickly, not run the fuzzer out of memory.
constexpr size_t kMaxStates = 20'000;

void against_json_mode(const std::string& text) {
  // The two bound nesting differently (JSON mode: 64 containers; the automaton: its stack), so
  // only texts that cannot nest that deep are compared.
  if (std::count(text.begin(), text.end(), '[') + std::count(text.begin(), text.end(), '{') > 60) return;
  static const auto object = fathom::engine::json_schema_grammar(std::string_view(R"({"type": "object"})"));
  GrammarAutomaton a(object, kMaxStates);
  fathom::engine::JsonPrefix p;
  auto state = a.start();
  for (char c : text) {
    const bool json_ok = p.feed(static_cast<uint8_t>(c));
    state = a.step(state, static_cast<uint8_t>(c));
    if ((state != GrammarAutomaton::kDead) != json_ok) fathom::fuzz::fail("the object grammar and JSON mode disagree", text);
    if (!json_ok) return;
    if (a.accepting(state) != p.complete()) fathom::fuzz::fail("the object grammar and JSON mode disagree on whole", text);
  }
}

void schema_and_text(std::string_view schema, const std::string& text) {
  std::shared_ptr<const fathom::engine::Grammar> grammar;
  try {
    grammar = fathom::engine::json_schema_grammar(schema);
  } catch (const fathom::Error& e) {
    if (fathom::fuzz::verbose()) std::fprintf(stderr, "schema refused: %s\n", e.what());
    return;
  }
  GrammarAutomaton a(grammar, kMaxStates);
  auto state = a.start();
  std::string read;
  for (char c : text) {
    state = a.step(state, static_cast<uint8_t>(c));
    if (state == GrammarAutomaton::kDead) return;
    read += c;
    if (!fathom::engine::nlohmann_verdict(read).prefix) fathom::fuzz::fail("the grammar kept alive a non-JSON prefix", read);
  }
  if (a.accepting(state) && !fathom::engine::nlohmann_verdict(read).whole) {
    fathom::fuzz::fail("the grammar accepted a text that is not JSON", read);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fathom::fuzz::as_text(data, size);
  const size_t nul = input.find('\0');
  try {
    if (nul == std::string_view::npos) {
      against_json_mode(std::string(input));
    } else {
      schema_and_text(input.substr(0, nul), std::string(input.substr(nul + 1)));
    }
  } catch (const fathom::Error& e) {
    if (e.code() != fathom::ErrorCode::resource_exhausted) fathom::fuzz::fail("an error other than the automaton's bound", e.what());
  }
  return 0;
}
