// What each token id decodes to, as bytes: the unit structured output checks (JSON mode's
// JsonTokenFilter, a schema's GrammarTokenFilter). Built once per engine from the tokenizer and
// shared by the filters.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::tokenizer {
class Tokenizer;
}

namespace fathom::engine {

class TokenTable {
 public:
  // `token_bytes[id]`: what token `id` decodes to; empty = never allowed.
  explicit TokenTable(const std::vector<std::string>& token_bytes);
  // A model's `vocab` ids from its tokenizer: special tokens and ids past the tokenizer's
  // vocabulary get no bytes (never allowed).
  static TokenTable from_tokenizer(const tokenizer::Tokenizer& tok, size_t vocab);

  size_t size() const { return offsets_.size() - 1; }

  // One bit per token id: set where the token has bytes and `follows(bytes)` says yes. Checks
  // each token on its own (the plain form, kept as the oracle of tokens_reachable).
  template <typename Follows>
  std::vector<uint64_t> tokens_where(Follows&& follows) const {
    std::vector<uint64_t> bits((size() + 63) / 64, 0);
    for (size_t id = 0; id < size(); ++id) {
      const std::string_view token = bytes(static_cast<int32_t>(id));
      if (!token.empty() && follows(token)) bits[id / 64] |= uint64_t{1} << (id % 64);
    }
    return bits;
  }

  // The same set for a recogniser read byte by byte from `start`: `step(state, byte)` returns
  // false when the byte cannot follow (and may leave `state` changed). Tokens are walked in byte
  // order, so a prefix shared with the token before is read once, and the tokens after a dead
  // prefix are skipped without reading: a trie walk over the vocabulary without the trie.
  template <typename State, typename Step>
  std::vector<uint64_t> tokens_reachable(const State& start, Step&& step) const {
    std::vector<uint64_t> bits((size() + 63) / 64, 0);
    std::vector<State> path(longest_ + 1, start);  // path[d]: the state after d bytes of the token
    size_t valid = 0;                              // path[0..valid] belong to the current token
    size_t dead = SIZE_MAX;                        // its first `dead` bytes cannot be read
    for (size_t k = 0; k < sorted_.size(); ++k) {
      const std::string_view token = bytes(sorted_[k]);
      const size_t shared = shared_[k];
      if (shared >= dead) continue;  // begins with the prefix that died
      dead = SIZE_MAX;
      size_t d = std::min(valid, shared);
      for (; d < token.size(); ++d) {
        path[d + 1] = path[d];
        if (!step(path[d + 1], static_cast<uint8_t>(token[d]))) {
          dead = d + 1;
          break;
        }
      }
      valid = d;
      if (dead == SIZE_MAX) bits[static_cast<size_t>(sorted_[k]) / 64] |= uint64_t{1} << (sorted_[k] % 64);
    }
    return bits;
  }

  // Empty for an id outside the table.
  std::string_view bytes(int32_t token) const {
    if (token < 0 || static_cast<size_t>(token) >= size()) return {};
    const auto i = static_cast<size_t>(token);
    return std::string_view(bytes_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
  }

 private:
  std::string bytes_;              // every token's bytes, back to back
  std::vector<uint32_t> offsets_;  // token i: bytes_[offsets_[i], offsets_[i + 1])
  std::vector<int32_t> sorted_;    // the ids with bytes, in byte order
  std::vector<uint32_t> shared_;   // sorted_[k]'s leading bytes in common with sorted_[k - 1]
  size_t longest_ = 0;             // bytes of the longest token
};

// Applies an allowed set (one bit per token id) to a row of logits: every other token gets −∞.
// Then end-of-sequence: allowed only once the output is `complete`, and then whatever its logit
// (it may be the only choice left); banned before, even where its bytes would fit. Returns how
// many tokens remain.
size_t apply_allowed_tokens(const std::vector<uint64_t>& allowed, bool complete, std::span<float> logits,
                            std::span<const int32_t> eos_ids);

}  // namespace fathom::engine
