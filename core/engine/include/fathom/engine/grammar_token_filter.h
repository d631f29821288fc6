// Structured output's token filter: which tokens may come next under a grammar (a JSON schema's:
// json_schema_grammar.h), given the automaton state the output so far reached. A token may
// follow when the automaton reads all its bytes; end-of-sequence only in an accepting state;
// special tokens never.
//
// The allowed set depends on the state alone and is cached per state, as JSON mode's is. One
// filter (and its automaton) serves every sequence with the same grammar: the n choices of a
// request share what one of them built.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "fathom/engine/grammar_automaton.h"
#include "fathom/engine/token_table.h"

namespace fathom::engine {

class GrammarTokenFilter {
 public:
  using State = GrammarAutomaton::State;

  GrammarTokenFilter(std::shared_ptr<const TokenTable> tokens, std::shared_ptr<const Grammar> grammar);

  State start() const { return automaton_.start(); }
  // Sets the logit of every token that cannot follow `state` to −∞ (see apply_allowed_tokens).
  // Returns how many tokens remain. Throws resource_exhausted when the automaton outgrows its
  // bounds (grammar_automaton.h).
  size_t mask(State state, std::span<float> logits, std::span<const int32_t> eos_ids);
  // The state after `token` (kDead if it cannot follow).
  State advance(State state, int32_t token) { return advance(state, tokens_->bytes(token)); }
  State advance(State state, std::string_view bytes) { return automaton_.feed(state, bytes); }
  bool accepting(State state) const { return automaton_.accepting(state); }

  const GrammarAutomaton& automaton() const { return automaton_; }
  size_t cached_states() const { return cache_.size(); }

 private:
  const std::vector<uint64_t>& allowed(State state);

  std::shared_ptr<const TokenTable> tokens_;
  GrammarAutomaton automaton_;
  std::unordered_map<State, std::vector<uint64_t>> cache_;  // one bit per token id
};

}  // namespace fathom::engine
