// What each token id decodes to, as bytes: the unit structured output checks (JSON mode's
// JsonTokenFilter, a schema's GrammarTokenFilter). Built once per engine from the tokenizer and
// shared by the filters.
#pragma once

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

  // One bit per token id: set where the token has bytes and `follows(bytes)` says yes.
  template <typename Follows>
  std::vector<uint64_t> tokens_where(Follows&& follows) const {
    std::vector<uint64_t> bits((size() + 63) / 64, 0);
    for (size_t id = 0; id < size(); ++id) {
      const std::string_view token = bytes(static_cast<int32_t>(id));
      if (!token.empty() && follows(token)) bits[id / 64] |= uint64_t{1} << (id % 64);
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
};

// Applies an allowed set (one bit per token id) to a row of logits: every other token gets −∞.
// Then end-of-sequence: allowed only once the output is `complete`, and then whatever its logit
// (it may be the only choice left); banned before, even where its bytes would fit. Returns how
// many tokens remain.
size_t apply_allowed_tokens(const std::vector<uint64_t>& allowed, bool complete, std::span<float> logits,
                            std::span<const int32_t> eos_ids);

}  // namespace fathom::engine
