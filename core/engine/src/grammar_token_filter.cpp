#include "fathom/engine/grammar_token_filter.h"

#include <utility>

namespace fathom::engine {

namespace {

// As JSON mode's cache: 16 KB per state for DeepSeek-V3's vocabulary.
constexpr size_t kMaxCachedStates = 512;

}  // namespace

GrammarTokenFilter::GrammarTokenFilter(std::shared_ptr<const TokenTable> tokens, std::shared_ptr<const Grammar> grammar)
    : tokens_(std::move(tokens)), automaton_(std::move(grammar)) {}

const std::vector<uint64_t>& GrammarTokenFilter::allowed(State state) {
  if (auto it = cache_.find(state); it != cache_.end()) return it->second;
  if (cache_.size() >= kMaxCachedStates) cache_.clear();
  auto bits = tokens_->tokens_reachable(state, [&](State& s, uint8_t byte) {
    s = automaton_.step(s, byte);
    return s != GrammarAutomaton::kDead;
  });
  return cache_.emplace(state, std::move(bits)).first->second;
}

size_t GrammarTokenFilter::mask(State state, std::span<float> logits, std::span<const int32_t> eos_ids) {
  return apply_allowed_tokens(allowed(state), automaton_.accepting(state), logits, eos_ids);
}

}  // namespace fathom::engine
