#include "fathom/tokenizer/merge_table.h"

#include <algorithm>
#include <bit>

namespace fathom::tokenizer {

namespace {
constexpr std::size_t kMinCapacity = 16;
}

MergeTable::MergeTable(std::size_t expected_rules) {
  const std::size_t capacity = std::bit_ceil(std::max(kMinCapacity, expected_rules * 2));
  entries_.assign(capacity, Entry{kEmpty, {}});
  mask_ = capacity - 1;
  shift_ = 64 - static_cast<unsigned>(std::countr_zero(capacity));
}

void MergeTable::insert(TokenId left, TokenId right, MergeRule rule) {
  if ((size_ + 1) * 2 > entries_.size()) grow();
  const std::uint64_t key = pack(left, right);
  for (std::size_t slot = slot_of(key);; slot = (slot + 1) & mask_) {
    Entry& entry = entries_[slot];
    if (entry.key == key) {
      entry.rule = rule;
      return;
    }
    if (entry.key == kEmpty) {
      entry = {key, rule};
      ++size_;
      return;
    }
  }
}

void MergeTable::grow() {
  std::vector<Entry> old = std::move(entries_);
  *this = MergeTable(old.size());  // twice the rules this table was sized for
  for (const Entry& entry : old) {
    if (entry.key != kEmpty) {
      insert(static_cast<TokenId>(entry.key >> 32), static_cast<TokenId>(entry.key), entry.rule);
    }
  }
}

}  // namespace fathom::tokenizer
