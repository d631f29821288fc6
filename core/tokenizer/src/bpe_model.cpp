#include "fathom/tokenizer/bpe_model.h"

#include <algorithm>
#include <limits>

namespace fathom::tokenizer {

namespace {

constexpr std::uint32_t kNoRank = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();

// Heap order: lowest rank first, then leftmost. std::*_heap build a max-heap,
// so "less" here means "comes out later".
bool comes_later(const BpeScratch::Candidate& a, const BpeScratch::Candidate& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.left_pos > b.left_pos;
}

}  // namespace

BpeModel::BpeModel(std::array<TokenId, 256> byte_tokens, MergeTable merges,
                   StringMap<TokenId> whole_words)
    : byte_tokens_(byte_tokens), merges_(std::move(merges)), whole_words_(std::move(whole_words)) {}

void BpeModel::encode_piece(std::string_view piece, BpeScratch& scratch, std::vector<TokenId>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_tokens_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (!whole_words_.empty()) {
    if (const auto it = whole_words_.find(piece); it != whole_words_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (piece.size() <= kShortPieceBytes) {
    merge_short(piece, scratch, out);
  } else {
    merge_long(piece, scratch, out);
  }
}

// Flat arrays: symbols[i], and for each adjacent pair (i, i+1) its rule's rank
// and result. A merge removes one symbol and one pair by shifting the tails
// left, and looks up only the two pairs that changed.
void BpeModel::merge_short(std::string_view piece, BpeScratch& scratch, std::vector<TokenId>& out) const {
  auto& symbols = scratch.symbols;
  auto& ranks = scratch.pair_ranks;
  auto& merged = scratch.pair_merged;
  std::size_t count = piece.size();
  symbols.resize(count);
  ranks.resize(count - 1);
  merged.resize(count - 1);
  for (std::size_t i = 0; i < count; ++i) symbols[i] = byte_tokens_[static_cast<unsigned char>(piece[i])];

  auto look_up_pair = [&](std::size_t i) {
    const MergeRule* rule = merges_.find(symbols[i], symbols[i + 1]);
    ranks[i] = rule ? rule->rank : kNoRank;
    merged[i] = rule ? rule->merged : kNoToken;
  };
  for (std::size_t i = 0; i + 1 < count; ++i) look_up_pair(i);

  while (count > 1) {
    std::size_t best = 0;
    for (std::size_t i = 1; i + 1 < count; ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == kNoRank) break;
    symbols[best] = merged[best];
    std::copy(symbols.begin() + best + 2, symbols.begin() + count, symbols.begin() + best + 1);
    std::copy(ranks.begin() + best + 1, ranks.begin() + count - 1, ranks.begin() + best);
    std::copy(merged.begin() + best + 1, merged.begin() + count - 1, merged.begin() + best);
    --count;
    if (best > 0) look_up_pair(best - 1);
    if (best + 1 < count) look_up_pair(best);
  }
  out.insert(out.end(), symbols.begin(), symbols.begin() + count);
}

// Linked list of symbols in byte slots (a merged symbol keeps its left slot)
// and a heap of candidate merges. A candidate is stale when either side has
// changed since it was pushed; it is then skipped when popped.
void BpeModel::merge_long(std::string_view piece, BpeScratch& scratch, std::vector<TokenId>& out) const {
  const auto count = static_cast<std::uint32_t>(piece.size());
  auto& symbols = scratch.symbols;
  auto& next = scratch.next;
  auto& prev = scratch.prev;
  auto& heap = scratch.heap;
  symbols.resize(count);
  next.resize(count);
  prev.resize(count);
  heap.clear();
  for (std::uint32_t i = 0; i < count; ++i) {
    symbols[i] = byte_tokens_[static_cast<unsigned char>(piece[i])];
    next[i] = i + 1 < count ? i + 1 : kNoSlot;
    prev[i] = i > 0 ? i - 1 : kNoSlot;
  }

  auto push_candidate = [&](std::uint32_t left_pos) {
    const std::uint32_t right_pos = next[left_pos];
    const MergeRule* rule = merges_.find(symbols[left_pos], symbols[right_pos]);
    if (!rule) return;
    heap.push_back({rule->rank, left_pos, symbols[left_pos], symbols[right_pos], rule->merged});
    std::push_heap(heap.begin(), heap.end(), comes_later);
  };
  for (std::uint32_t i = 0; i + 1 < count; ++i) push_candidate(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), comes_later);
    const BpeScratch::Candidate candidate = heap.back();
    heap.pop_back();
    const std::uint32_t left = candidate.left_pos;
    const std::uint32_t right = next[left];
    if (symbols[left] != candidate.left || right == kNoSlot || symbols[right] != candidate.right) continue;

    symbols[left] = candidate.merged;
    symbols[right] = kNoToken;
    next[left] = next[right];
    if (next[right] != kNoSlot) prev[next[right]] = left;
    if (prev[left] != kNoSlot) push_candidate(prev[left]);
    if (next[left] != kNoSlot) push_candidate(left);
  }
  for (std::uint32_t i = 0; i != kNoSlot; i = next[i]) out.push_back(symbols[i]);
}

}  // namespace fathom::tokenizer
