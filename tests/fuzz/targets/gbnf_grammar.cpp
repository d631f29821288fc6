// A GBNF grammar of arbitrary bytes (llama.cpp's notation; vLLM's structured_outputs.grammar)
// read for structured output, then run over arbitrary text: the first two bytes say where the
// grammar ends. Every refusal is a fathom::Error, and running the automaton never fails
// otherwise (its own bounds are errors too).
#include <algorithm>
#include <string>

#include "fathom/engine/grammar_automaton.h"
#include "fathom/engine/text_grammar.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view input = fathom::fuzz::as_text(data + 2, size - 2);
  const size_t split = std::min<size_t>(size_t{data[0]} << 8 | data[1], input.size());
  fathom::fuzz::expect_only_fathom_errors([&] {
    fathom::engine::GrammarAutomaton automaton(fathom::engine::gbnf_grammar(input.substr(0, split), "grammar"));
    auto state = automaton.start();
    for (const char c : input.substr(split)) {
      state = automaton.step(state, static_cast<std::uint8_t>(c));
      if (state == fathom::engine::GrammarAutomaton::kDead) break;
    }
  });
  return 0;
}
