#include "fathom/engine/json_token_filter.h"

#include <limits>

#include "fathom/tokenizer/tokenizer.h"

namespace fathom::engine {

namespace {

// Enough states for a deeply nested document's distinct positions; past it the cache starts
// over (each entry is one bit per token: 16 KB for DeepSeek-V3).
constexpr size_t kMaxCachedStates = 512;

}  // namespace

JsonTokenFilter::JsonTokenFilter(const std::vector<std::string>& token_bytes) {
  offsets_.reserve(token_bytes.size() + 1);
  offsets_.push_back(0);
  for (const std::string& b : token_bytes) {
    bytes_ += b;
    offsets_.push_back(static_cast<uint32_t>(bytes_.size()));
  }
}

JsonTokenFilter JsonTokenFilter::from_tokenizer(const tokenizer::Tokenizer& tok, size_t vocab) {
  std::vector<std::string> table(vocab);
  for (size_t id = 0; id < vocab; ++id) {
    const auto t = static_cast<tokenizer::TokenId>(id);
    if (tok.contains(t) && !tok.is_special(t)) table[id] = std::string(tok.token_bytes(t));
  }
  return JsonTokenFilter(table);
}

std::string_view JsonTokenFilter::bytes(int32_t token) const {
  if (token < 0 || static_cast<size_t>(token) + 1 >= offsets_.size()) return {};
  const auto i = static_cast<size_t>(token);
  return std::string_view(bytes_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
}

const std::vector<uint64_t>& JsonTokenFilter::allowed(const JsonPrefix& state) {
  if (auto it = cache_.find(state); it != cache_.end()) return it->second;
  if (cache_.size() >= kMaxCachedStates) cache_.clear();
  const size_t vocab = offsets_.size() - 1;
  std::vector<uint64_t> bits((vocab + 63) / 64, 0);
  for (size_t id = 0; id < vocab; ++id) {
    if (offsets_[id] == offsets_[id + 1]) continue;
    JsonPrefix next = state;
    if (next.feed(bytes(static_cast<int32_t>(id)))) bits[id / 64] |= uint64_t{1} << (id % 64);
  }
  return cache_.emplace(state, std::move(bits)).first->second;
}

size_t JsonTokenFilter::mask(const JsonPrefix& state, std::span<float> logits, std::span<const int32_t> eos_ids) {
  constexpr float kBanned = -std::numeric_limits<float>::infinity();
  const std::vector<uint64_t>& bits = allowed(state);
  size_t kept = 0;
  for (size_t id = 0; id < logits.size(); ++id) {
    const bool ok = id / 64 < bits.size() && ((bits[id / 64] >> (id % 64)) & 1) != 0;
    if (ok) {
      ++kept;
    } else {
      logits[id] = kBanned;
    }
  }
  // End-of-sequence: only after a complete JSON text, and then it is the only choice (nothing may
  // follow the text), so its logit's value no longer matters. Before, it is banned even where
  // its bytes would read as string content (a tokenizer that does not mark it special).
  for (int32_t id : eos_ids) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) continue;
    float& logit = logits[static_cast<size_t>(id)];
    if (state.complete() && logit == kBanned) {
      logit = 0;
      ++kept;
    } else if (!state.complete() && logit != kBanned) {
      logit = kBanned;
      --kept;
    }
  }
  return kept;
}

}  // namespace fathom::engine
