#include "fathom/engine/grammar_automaton.h"

#include <algorithm>
#include <utility>

#include "fathom/core/error.h"

namespace fathom::engine {

using Kind = GrammarElement::Kind;

namespace {
// Stacks one step may produce before duplicates are removed.
constexpr size_t kMaxExpansions = 8 * GrammarAutomaton::kMaxStacks;
}  // namespace

size_t GrammarAutomaton::StacksHash::operator()(const std::vector<Stack>& stacks) const {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ stacks.size();
  for (const Stack& s : stacks) {
    h = (h ^ (s.size() + 0x51ED27)) * 0x100000001B3ull;
    for (uint32_t p : s) h = (h ^ p) * 0x100000001B3ull;
  }
  return static_cast<size_t>(h ^ (h >> 29));
}

GrammarAutomaton::GrammarAutomaton(std::shared_ptr<const Grammar> grammar, size_t max_states)
    : grammar_(std::move(grammar)), max_states_(max_states) {
  if (!grammar_) throw invalid_argument("GrammarAutomaton needs a grammar");
  std::vector<Stack> start;
  for (uint32_t alt : grammar_->alternatives(grammar_->root())) expand(Stack{alt}, start);
  std::sort(start.begin(), start.end());
  start.erase(std::unique(start.begin(), start.end()), start.end());
  intern(std::move(start));  // state 0, even when empty (a grammar of no sentence: every byte is dead)
}

void GrammarAutomaton::expand(Stack stack, std::vector<Stack>& out) const {
  const std::vector<GrammarElement>& elements = grammar_->elements();
  while (true) {
    if (out.size() >= kMaxExpansions) {
      throw resource_exhausted("the grammar is too ambiguous here: more than " + std::to_string(kMaxExpansions) +
                               " ways to read the output so far");
    }
    if (stack.empty()) {
      out.push_back(std::move(stack));
      return;
    }
    if (stack.size() > kMaxStackDepth) return;  // nested too deeply: this parse is dropped
    const uint32_t at = stack.back();
    const GrammarElement e = elements[at];
    switch (e.kind) {
      case Kind::bytes:
        out.push_back(std::move(stack));
        return;
      case Kind::end:
        stack.pop_back();  // the caller's frame already points past the call
        continue;
      case Kind::rule: {
        stack.back() = at + 1;
        if (elements[at + 1].kind == Kind::end) stack.pop_back();  // a tail call keeps no frame
        const std::vector<uint32_t>& alternatives = grammar_->alternatives(e.index);
        for (size_t i = 1; i < alternatives.size(); ++i) {
          Stack other = stack;
          other.push_back(alternatives[i]);
          expand(std::move(other), out);
        }
        stack.push_back(alternatives[0]);
        continue;
      }
    }
  }
}

GrammarAutomaton::State GrammarAutomaton::intern(std::vector<Stack> stacks) {
  if (auto it = index_.find(stacks); it != index_.end()) return it->second;
  if (stacks.size() > kMaxStacks) {
    throw resource_exhausted("the grammar is too ambiguous here: " + std::to_string(stacks.size()) +
                             " ways to read the output so far (at most " + std::to_string(kMaxStacks) + ")");
  }
  if (nodes_.size() >= max_states_) {
    throw resource_exhausted("the grammar's automaton grew past " + std::to_string(max_states_) + " states");
  }
  Node node;
  node.accepting = !stacks.empty() && stacks.front().empty();  // sorted: the empty stack comes first
  node.next.assign(grammar_->class_count(), kUnknown);
  node.stacks = stacks;
  const auto id = static_cast<State>(nodes_.size());
  nodes_.push_back(std::move(node));
  index_.emplace(std::move(stacks), id);
  return id;
}

GrammarAutomaton::State GrammarAutomaton::compute_step(State from, uint8_t byte) {
  const std::vector<GrammarElement>& elements = grammar_->elements();
  std::vector<Stack> out;
  for (const Stack& stack : nodes_[static_cast<size_t>(from)].stacks) {
    if (stack.empty()) continue;
    if (!grammar_->byte_set(elements[stack.back()].index).contains(byte)) continue;
    Stack moved = stack;
    ++moved.back();
    expand(std::move(moved), out);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  const State next = out.empty() ? kDead : intern(std::move(out));  // may grow nodes_: index again below
  nodes_[static_cast<size_t>(from)].next[grammar_->byte_class(byte)] = next;
  return next;
}

}  // namespace fathom::engine
