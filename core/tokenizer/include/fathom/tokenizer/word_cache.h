// Remembers how BPE encoded recent pre-tokenizer pieces.
//
// Natural text repeats its words, so most pieces are found here and skip the
// merge loop. Ids live in one flat array; the map holds only offsets into it.
// When the cache is full it is emptied and refills with what is current,
// which suits a long-running server better than freezing the first words seen.
// Not thread-safe: each encoding thread uses its own (see EncodeWorkspace).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/tokenizer/string_map.h"
#include "fathom/tokenizer/types.h"

namespace fathom::tokenizer {

class WordCache {
 public:
  // Pieces longer than this are not cached: they are rare, and would crowd out many short ones.
  static constexpr std::size_t kMaxWordBytes = 64;

  explicit WordCache(std::size_t capacity = 16384) : capacity_(capacity) {}

  // Appends the cached ids of `word` to `out` and returns true, or returns false.
  bool lookup(std::string_view word, std::vector<TokenId>& out) const {
    const auto it = offsets_.find(word);
    if (it == offsets_.end()) return false;
    out.insert(out.end(), ids_.begin() + it->second.begin, ids_.begin() + it->second.end);
    return true;
  }

  void insert(std::string_view word, std::span<const TokenId> ids);
  void clear() {
    offsets_.clear();
    ids_.clear();
  }

  std::size_t size() const { return offsets_.size(); }

 private:
  struct Span {
    std::uint32_t begin;
    std::uint32_t end;
  };

  std::size_t capacity_;
  StringMap<Span> offsets_;
  std::vector<TokenId> ids_;
};

}  // namespace fathom::tokenizer
