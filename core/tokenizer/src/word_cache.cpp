#include "fathom/tokenizer/word_cache.h"

namespace fathom::tokenizer {

void WordCache::insert(std::string_view word, std::span<const TokenId> ids) {
  if (word.size() > kMaxWordBytes || capacity_ == 0) return;
  if (offsets_.size() >= capacity_) clear();
  const auto begin = static_cast<std::uint32_t>(ids_.size());
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  offsets_.emplace(std::string(word), Span{begin, static_cast<std::uint32_t>(ids_.size())});
}

}  // namespace fathom::tokenizer
