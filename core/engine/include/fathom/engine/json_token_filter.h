// JSON mode's token filter: which tokens may come next, given the JSON generated so far (a
// JsonPrefix). A token may follow when every one of its bytes may; end-of-sequence only once the
// JSON is complete; special tokens (and ids without a token) never.
//
// Checking the whole vocabulary is one pass over its bytes (about 1 MB for DeepSeek-V3's 129,280
// tokens). The result depends on the JSON state alone, and states repeat (inside a long string,
// after every comma at one depth), so the allowed sets are cached by state.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "fathom/engine/json_prefix.h"
#include "fathom/engine/token_table.h"

namespace fathom::engine {

class JsonTokenFilter {
 public:
  explicit JsonTokenFilter(std::shared_ptr<const TokenTable> tokens) : tokens_(std::move(tokens)) {}
  // `token_bytes[id]`: what token `id` decodes to; empty = never allowed.
  explicit JsonTokenFilter(const std::vector<std::string>& token_bytes)
      : tokens_(std::make_shared<const TokenTable>(token_bytes)) {}
  // The table for a model's `vocab` ids from its tokenizer (TokenTable::from_tokenizer).
  static JsonTokenFilter from_tokenizer(const tokenizer::Tokenizer& tok, size_t vocab) {
    return JsonTokenFilter(std::make_shared<const TokenTable>(TokenTable::from_tokenizer(tok, vocab)));
  }

  // Sets the logit of every token that cannot follow `state` to −∞; `eos_ids` stay only when the
  // JSON is complete. Returns how many tokens remain.
  size_t mask(const JsonPrefix& state, std::span<float> logits, std::span<const int32_t> eos_ids);

  // The bytes of `token`, for feeding the state once it is chosen.
  std::string_view bytes(int32_t token) const { return tokens_->bytes(token); }

  size_t cached_states() const { return cache_.size(); }

 private:
  // One bit per token id.
  const std::vector<uint64_t>& allowed(const JsonPrefix& state);

  std::shared_ptr<const TokenTable> tokens_;
  struct StateHash {
    size_t operator()(const JsonPrefix& s) const { return static_cast<size_t>(s.hash()); }
  };
  std::unordered_map<JsonPrefix, std::vector<uint64_t>, StateHash> cache_;
};

}  // namespace fathom::engine
