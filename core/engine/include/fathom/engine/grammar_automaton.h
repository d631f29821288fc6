// Runs a Grammar over bytes, building a deterministic automaton as it goes.
//
// A parse position is a stack of places in the grammar (each a position in
// Grammar::elements(): the element a rule in progress reads next, the innermost on top); a
// state is the set of every stack the bytes so far allow, each expanded until its top reads a
// byte (or the stack is empty: the input is a whole sentence). Reading a byte keeps the stacks
// whose top accepts it, moved one element on.
//
// States are interned and their transitions cached per byte class, so the automaton is built
// lazily, only where generation goes: checking a token against a state seen before is a few
// table lookups, like JsonPrefix's. A rule called last in its alternative does not keep its
// caller's frame (a tail call), so repetition written as right recursion keeps stacks flat.
//
// Bounded so that a hostile grammar (or schema) cannot take the process down: stacks deeper than
// kMaxStackDepth are dropped (nesting too deep is not allowed), and a state with more than
// kMaxStacks stacks, or more than max_states states in all, throws resource_exhausted.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fathom/engine/grammar.h"

namespace fathom::engine {

class GrammarAutomaton {
 public:
  using State = int32_t;
  static constexpr State kDead = -1;
  static constexpr size_t kMaxStackDepth = 256;
  static constexpr size_t kMaxStacks = 1024;
  static constexpr size_t kDefaultMaxStates = 200'000;

  explicit GrammarAutomaton(std::shared_ptr<const Grammar> grammar, size_t max_states = kDefaultMaxStates);

  State start() const { return 0; }
  // The state after `byte`, or kDead when the byte cannot follow.
  State step(State from, uint8_t byte) {
    const int32_t next = nodes_[static_cast<size_t>(from)].next[grammar_->byte_class(byte)];
    return next != kUnknown ? next : compute_step(from, byte);
  }
  State feed(State from, std::string_view bytes) {
    for (char c : bytes) {
      if (from == kDead) break;
      from = step(from, static_cast<uint8_t>(c));
    }
    return from;
  }
  // The bytes so far are a whole sentence of the grammar (more may still follow).
  bool accepting(State s) const { return nodes_[static_cast<size_t>(s)].accepting; }
  // Whether any byte at all can follow (false: the sentence is finished).
  bool can_continue(State s) const {
    const Node& n = nodes_[static_cast<size_t>(s)];
    return n.stacks.size() > (n.accepting ? 1u : 0u);  // an empty stack is the whole sentence
  }

  size_t states() const { return nodes_.size(); }

 private:
  static constexpr int32_t kUnknown = -2;
  using Stack = std::vector<uint32_t>;
  struct Node {
    std::vector<Stack> stacks;  // sorted, distinct
    bool accepting = false;
    std::vector<int32_t> next;  // per byte class: a state, kDead, or kUnknown
  };
  struct StacksHash {
    size_t operator()(const std::vector<Stack>& stacks) const;
  };

  State compute_step(State from, uint8_t byte);
  // Expands `stack` until its top reads a byte (or it is empty), adding the results to `out`.
  void expand(Stack stack, std::vector<Stack>& out) const;
  State intern(std::vector<Stack> stacks);

  std::shared_ptr<const Grammar> grammar_;
  size_t max_states_;
  std::vector<Node> nodes_;
  std::unordered_map<std::vector<Stack>, State, StacksHash> index_;
};

}  // namespace fathom::engine
