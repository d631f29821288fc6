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

}  // namespace fathom::engine
