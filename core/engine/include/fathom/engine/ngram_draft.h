// Prompt-lookup drafting (Speculation::ngram): text that repeats itself — code being edited, a
// document being quoted or summarised — is drafted from its own earlier occurrence, with no draft
// model at all.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace fathom::engine {

// The tokens that followed the latest earlier occurrence of the sequence's last n tokens, for the
// longest n ≤ max_n that occurs, at most `count` of them; empty when none occurs. The sequence is
// `prompt` followed by `output`. A plain scan of the whole sequence: the oracle NgramIndex is
// tested against.
std::vector<int32_t> ngram_drafts(std::span<const int32_t> prompt, std::span<const int32_t> output, size_t max_n,
                                  size_t count);

// The same drafts in constant time per token: where each n-gram (n ≤ kMaxN) last ended, kept up
// to date as the sequence grows. A scan would cost a decode step O(length) per sequence: at a
// 128K-token context and batch 32, milliseconds a step.
class NgramIndex {
 public:
  static constexpr size_t kMaxN = 3;

  // Indexes what the sequence gained since the last call (it only ever grows).
  void extend(std::span<const int32_t> prompt, std::span<const int32_t> output);
  // As ngram_drafts(prompt, output, max_n, count) for the sequence indexed so far (max_n ≤ kMaxN).
  std::vector<int32_t> drafts(size_t max_n, size_t count) const;

 private:
  using Gram = std::array<int32_t, kMaxN>;  // unused places hold 0; the map per n tells them apart
  struct GramHash {
    size_t operator()(const Gram& g) const noexcept;
  };
  Gram gram_ending_at(size_t end, size_t n) const;  // tokens_[end − n, end)
  void append(int32_t token);

  std::vector<int32_t> tokens_;
  // Per n: n-gram → the end (exclusive) of its latest occurrence, for every end but the current
  // one (the tail, whose earlier occurrence is what a lookup wants).
  std::array<std::unordered_map<Gram, size_t, GramHash>, kMaxN> last_end_;
};

}  // namespace fathom::engine
