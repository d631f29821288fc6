#include "fathom/engine/token_table.h"

#include <limits>

#include "fathom/tokenizer/tokenizer.h"

namespace fathom::engine {

TokenTable::TokenTable(const std::vector<std::string>& token_bytes) {
  offsets_.reserve(token_bytes.size() + 1);
  offsets_.push_back(0);
  for (const std::string& b : token_bytes) {
    bytes_ += b;
    offsets_.push_back(static_cast<uint32_t>(bytes_.size()));
    longest_ = std::max(longest_, b.size());
  }
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    if (!token_bytes[id].empty()) sorted_.push_back(static_cast<int32_t>(id));
  }
  std::sort(sorted_.begin(), sorted_.end(), [&](int32_t a, int32_t b) { return bytes(a) < bytes(b); });
  shared_.assign(sorted_.size(), 0);
  for (size_t k = 1; k < sorted_.size(); ++k) {
    const std::string_view a = bytes(sorted_[k - 1]), b = bytes(sorted_[k]);
    const auto mismatch = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    shared_[k] = static_cast<uint32_t>(mismatch.first - a.begin());
  }
}

TokenTable TokenTable::from_tokenizer(const tokenizer::Tokenizer& tok, size_t vocab) {
  std::vector<std::string> table(vocab);
  for (size_t id = 0; id < vocab; ++id) {
    const auto t = static_cast<tokenizer::TokenId>(id);
    if (tok.contains(t) && !tok.is_special(t)) table[id] = std::string(tok.token_bytes(t));
  }
  return TokenTable(table);
}

size_t apply_allowed_tokens(const std::vector<uint64_t>& allowed, bool complete, std::span<float> logits,
                            std::span<const int32_t> eos_ids) {
  constexpr float kBanned = -std::numeric_limits<float>::infinity();
  std::vector<float> eos_logits;  // the model's own, for when end-of-sequence is allowed
  for (int32_t id : eos_ids) {
    const bool inside = id >= 0 && static_cast<size_t>(id) < logits.size();
    eos_logits.push_back(inside ? logits[static_cast<size_t>(id)] : kBanned);
  }
  size_t kept = 0;
  for (size_t id = 0; id < logits.size(); ++id) {
    const bool ok = id / 64 < allowed.size() && ((allowed[id / 64] >> (id % 64)) & 1) != 0;
    if (ok) {
      ++kept;
    } else {
      logits[id] = kBanned;
    }
  }
  for (size_t i = 0; i < eos_ids.size(); ++i) {
    const int32_t id = eos_ids[i];
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) continue;
    float& logit = logits[static_cast<size_t>(id)];
    const bool was_kept = logit != kBanned;
    // Complete: the model's own logit (other tokens may still continue a grammar's sentence),
    // or 0 when it had none and may be the only choice left.
    const float wanted = !complete ? kBanned : eos_logits[i] != kBanned ? eos_logits[i] : 0.0f;
    logit = wanted;
    kept = kept - (was_kept ? 1 : 0) + (wanted != kBanned ? 1 : 0);
  }
  return kept;
}

}  // namespace fathom::engine
