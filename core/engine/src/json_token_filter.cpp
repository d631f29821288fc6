#include "fathom/engine/json_token_filter.h"

namespace fathom::engine {

namespace {

// Enough states for a deeply nested document's distinct positions; past it the cache starts
// over (each entry is one bit per token: 16 KB for DeepSeek-V3).
constexpr size_t kMaxCachedStates = 512;

}  // namespace

const std::vector<uint64_t>& JsonTokenFilter::allowed(const JsonPrefix& state) {
  if (auto it = cache_.find(state); it != cache_.end()) return it->second;
  if (cache_.size() >= kMaxCachedStates) cache_.clear();
  auto bits = tokens_->tokens_reachable(state, [](JsonPrefix& s, uint8_t byte) { return s.feed(byte); });
  return cache_.emplace(state, std::move(bits)).first->second;
}

size_t JsonTokenFilter::mask(const JsonPrefix& state, std::span<float> logits, std::span<const int32_t> eos_ids) {
  // Once the object is complete nothing may follow it, so end-of-sequence is the only choice.
  return apply_allowed_tokens(allowed(state), state.complete(), logits, eos_ids);
}

}  // namespace fathom::engine
