#include "fathom/engine/ngram_draft.h"

#include <algorithm>

namespace fathom::engine {

std::vector<int32_t> ngram_drafts(std::span<const int32_t> prompt, std::span<const int32_t> output, size_t max_n,
                                  size_t count) {
  std::vector<int32_t> tokens(prompt.begin(), prompt.end());
  tokens.insert(tokens.end(), output.begin(), output.end());
  const size_t len = tokens.size();
  for (size_t n = std::min(max_n, len > 0 ? len - 1 : 0); n >= 1; --n) {
    const auto tail = tokens.end() - static_cast<ptrdiff_t>(n);
    // Latest first: the most recent context is the likeliest to continue the same way.
    for (size_t start = len - n; start-- > 0;) {
      if (!std::equal(tail, tokens.end(), tokens.begin() + static_cast<ptrdiff_t>(start))) continue;
      const size_t from = start + n;
      const size_t to = std::min(from + count, len);
      return std::vector<int32_t>(tokens.begin() + static_cast<ptrdiff_t>(from), tokens.begin() + static_cast<ptrdiff_t>(to));
    }
  }
  return {};
}

size_t NgramIndex::GramHash::operator()(const Gram& g) const noexcept {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int32_t t : g) h = (h ^ static_cast<uint32_t>(t)) * 0x100000001b3ull;
  return static_cast<size_t>(h);
}

NgramIndex::Gram NgramIndex::gram_ending_at(size_t end, size_t n) const {
  Gram g{};
  std::copy(tokens_.begin() + static_cast<ptrdiff_t>(end - n), tokens_.begin() + static_cast<ptrdiff_t>(end), g.begin());
  return g;
}

void NgramIndex::append(int32_t token) {
  // The old tail becomes an earlier occurrence for the new one.
  const size_t end = tokens_.size();
  for (size_t n = 1; n <= kMaxN && n <= end; ++n) last_end_[n - 1][gram_ending_at(end, n)] = end;
  tokens_.push_back(token);
}

void NgramIndex::extend(std::span<const int32_t> prompt, std::span<const int32_t> output) {
  for (size_t i = tokens_.size(); i < prompt.size() + output.size(); ++i) {
    append(i < prompt.size() ? prompt[i] : output[i - prompt.size()]);
  }
}

std::vector<int32_t> NgramIndex::drafts(size_t max_n, size_t count) const {
  const size_t len = tokens_.size();
  for (size_t n = std::min({max_n, kMaxN, len > 0 ? len - 1 : 0}); n >= 1; --n) {
    const auto it = last_end_[n - 1].find(gram_ending_at(len, n));
    if (it == last_end_[n - 1].end()) continue;
    const size_t from = it->second;
    return std::vector<int32_t>(tokens_.begin() + static_cast<ptrdiff_t>(from),
                                tokens_.begin() + static_cast<ptrdiff_t>(std::min(from + count, len)));
  }
  return {};
}

}  // namespace fathom::engine
