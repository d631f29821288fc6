// Byte-level BPE: turns one pre-tokenizer piece (raw bytes) into token ids.
//
// A piece starts as one token per byte; then, repeatedly, the adjacent pair
// whose merge rule has the lowest rank is joined (the leftmost one on a tie)
// until no adjacent pair has a rule. Short pieces use a flat array scanned for
// the best pair; long ones (e.g. a run of CJK text, which the DeepSeek
// pre-tokenizer keeps in one piece) use a linked list and a heap, so that the
// work stays O(n log n).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/tokenizer/merge_table.h"
#include "fathom/tokenizer/string_map.h"
#include "fathom/tokenizer/types.h"

namespace fathom::tokenizer {

// Buffers of the merge loop, reused from word to word. One per thread.
struct BpeScratch {
  struct Candidate {
    std::uint32_t rank;
    std::uint32_t left_pos;  // slot of the left symbol; slots keep the order of the bytes
    TokenId left;
    TokenId right;
    TokenId merged;
  };
  std::vector<TokenId> symbols;
  std::vector<std::uint32_t> pair_ranks;
  std::vector<TokenId> pair_merged;
  std::vector<std::uint32_t> next;
  std::vector<std::uint32_t> prev;
  std::vector<Candidate> heap;
};

class BpeModel {
 public:
  // `byte_tokens[b]`: the token of the single byte b. `merges`: every rule,
  // keyed by the ids it joins. With `whole_words` non-empty (tokenizer.json
  // `ignore_merges: true`), a piece that is itself a token (keyed by its raw
  // bytes) is emitted as that token without merging.
  BpeModel(std::array<TokenId, 256> byte_tokens, MergeTable merges,
           StringMap<TokenId> whole_words = {});

  // Appends the ids of `piece` (non-empty raw bytes) to `out`.
  void encode_piece(std::string_view piece, BpeScratch& scratch, std::vector<TokenId>& out) const;

  // Pieces up to this many bytes use the flat-array merge loop.
  static constexpr std::size_t kShortPieceBytes = 48;

 private:
  void merge_short(std::string_view piece, BpeScratch& scratch, std::vector<TokenId>& out) const;
  void merge_long(std::string_view piece, BpeScratch& scratch, std::vector<TokenId>& out) const;

  std::array<TokenId, 256> byte_tokens_;
  MergeTable merges_;
  StringMap<TokenId> whole_words_;
};

}  // namespace fathom::tokenizer
