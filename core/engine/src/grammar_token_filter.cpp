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
  const size_t vocab = tokens_->size();
  std::vector<uint64_t> bits((vocab + 63) / 64, 0);
  for (size_t id = 0; id < vocab; ++id) {
    const std::string_view token = tokens_->bytes(static_cast<int32_t>(id));
    if (!token.empty() && automaton_.feed(state, token) != GrammarAutomaton::kDead) {
      bits[id / 64] |= uint64_t{1} << (id % 64);
    }
  }
  return cache_.emplace(state, std::move(bits)).first->second;
}

size_t GrammarTokenFilter::mask(State state, std::span<float> logits, std::span<const int32_t> eos_ids) {
  return apply_allowed_tokens(allowed(state), automaton_.accepting(state), logits, eos_ids);
}

}  // namespace fathom::engine
