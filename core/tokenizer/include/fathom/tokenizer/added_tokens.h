// Added tokens (tokenizer.json `added_tokens`): strings such as
// "<｜begin▁of▁sentence｜>" or "<think>" that are cut out of the text as whole
// tokens before any pre-tokenization, so that BPE never sees them.
//
// As in Hugging Face `tokenizers`, matching is leftmost-longest and runs in two
// passes: first the tokens marked `normalized: false` over the raw text, then
// the `normalized: true` ones over what is left. (They would see normalized
// text; Fathom only loads tokenizers whose normalizer is the identity, so both
// passes read the same bytes, but the order of the passes still decides
// overlaps.)
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/tokenizer/types.h"

namespace fathom::tokenizer {

struct AddedToken {
  TokenId id = kNoToken;
  std::string content;
  bool special = false;     // dropped by decode(skip_special_tokens = true)
  bool normalized = false;  // matched in the second pass
};

// A run of input text: either an added token or plain text for the pre-tokenizer.
struct TextSegment {
  std::string_view text;
  TokenId added_token = kNoToken;  // kNoToken: plain text
};

// Leftmost-longest search for a fixed set of strings (a byte trie).
class TokenTrie {
 public:
  void insert(std::string_view key, TokenId value);
  bool empty() const { return nodes_.size() <= 1; }

  // The longest key that starts at text[pos], as {length, value}; {0, kNoToken} if none.
  struct Hit {
    std::size_t length = 0;
    TokenId value = kNoToken;
  };
  Hit longest_at(std::string_view text, std::size_t pos) const;

  // The first position at or after `pos` whose byte starts some key (text.size() if none):
  // lets the scan skip most of the text without walking the trie.
  std::size_t next_candidate(std::string_view text, std::size_t pos) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, std::uint32_t>> children;
    TokenId value = kNoToken;
  };
  std::vector<Node> nodes_{Node{}};
  std::array<bool, 256> first_bytes_{};
  int only_first_byte_ = -1;  // the one byte all keys start with (DeepSeek's '<'), or -1
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  explicit AddedVocabulary(std::vector<AddedToken> tokens);

  bool empty() const { return tokens_.empty(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

  // Cuts `text` into segments, in order; plain-text segments are never empty.
  void split(std::string_view text, std::vector<TextSegment>& segments) const;

 private:
  void scan(const TokenTrie& trie, const TokenTrie* next_pass, std::string_view text,
            std::vector<TextSegment>& segments) const;

  std::vector<AddedToken> tokens_;
  TokenTrie raw_pass_;         // normalized: false
  TokenTrie normalized_pass_;  // normalized: true
};

}  // namespace fathom::tokenizer
