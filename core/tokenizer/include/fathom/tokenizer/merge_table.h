// The BPE merge rules as a hash table keyed by the pair of token ids they join.
//
// Looked up once per adjacent pair while encoding, so it is an open-addressing
// table with linear probing over one flat array: no per-node allocation, one
// cache line per probe in the common case.
#pragma once

#include <cstdint>
#include <vector>

#include "fathom/tokenizer/types.h"

namespace fathom::tokenizer {

struct MergeRule {
  std::uint32_t rank = 0;    // earlier merges (lower rank) apply first
  TokenId merged = kNoToken; // the token the pair becomes
};

class MergeTable {
 public:
  // Sized for `expected_rules` entries at most half full.
  explicit MergeTable(std::size_t expected_rules = 0);

  // Adds or replaces the rule for (left, right).
  void insert(TokenId left, TokenId right, MergeRule rule);

  // The rule for (left, right), or nullptr when the pair never merges.
  const MergeRule* find(TokenId left, TokenId right) const {
    const std::uint64_t key = pack(left, right);
    for (std::size_t slot = slot_of(key);; slot = (slot + 1) & mask_) {
      const Entry& entry = entries_[slot];
      if (entry.key == key) return &entry.rule;
      if (entry.key == kEmpty) return nullptr;
    }
  }

  std::size_t size() const { return size_; }

 private:
  struct Entry {
    std::uint64_t key;
    MergeRule rule;
  };
  // No real pair packs to this: ids are below kNoToken.
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};

  static std::uint64_t pack(TokenId left, TokenId right) { return (std::uint64_t{left} << 32) | right; }
  std::size_t slot_of(std::uint64_t key) const {
    // Fibonacci hashing: the multiply spreads both ids over the high bits.
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  void grow();

  std::vector<Entry> entries_;
  std::size_t mask_ = 0;
  unsigned shift_ = 64;
  std::size_t size_ = 0;
};

}  // namespace fathom::tokenizer
