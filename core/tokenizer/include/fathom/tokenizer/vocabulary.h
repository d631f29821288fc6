// Every token the tokenizer knows, by id: its written form and the bytes it decodes to.
//
// Holds the model's vocabulary and the added tokens together, as Hugging Face
// resolves ids: an added token's entry takes precedence over a model token
// with the same id or the same spelling.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/tokenizer/string_map.h"
#include "fathom/tokenizer/types.h"

namespace fathom::tokenizer {

struct VocabEntry {
  TokenId id = kNoToken;
  std::string text;   // as written in tokenizer.json: byte-level spelling, or an added token's content
  std::string bytes;  // what decoding emits for the token
  bool special = false;
};

class Vocabulary {
 public:
  Vocabulary() = default;
  // Later entries replace earlier ones with the same id or text.
  explicit Vocabulary(const std::vector<VocabEntry>& entries);

  // One past the largest id; ids below it may still be unused (gaps).
  std::size_t id_limit() const { return flags_.size(); }
  std::size_t token_count() const { return ids_by_text_.size(); }
  bool contains(TokenId id) const { return id < id_limit() && (flags_[id] & kPresent); }

  // Precondition for these three: contains(id).
  std::string_view text(TokenId id) const { return slice(id, kText); }
  std::string_view bytes(TokenId id) const { return slice(id, kBytes); }
  bool is_special(TokenId id) const { return flags_[id] & kSpecial; }

  std::optional<TokenId> find(std::string_view text) const;

 private:
  enum Field { kText = 0, kBytes = 1 };
  static constexpr std::uint8_t kPresent = 1;
  static constexpr std::uint8_t kSpecial = 2;

  std::string_view slice(TokenId id, Field field) const {
    const std::size_t i = 2 * std::size_t{id} + field;
    return std::string_view(storage_).substr(bounds_[i], bounds_[i + 1] - bounds_[i]);
  }

  // Text and bytes of all ids in one buffer, in id order. Field f of id i spans
  // [bounds_[2i + f], bounds_[2i + f + 1]); unused ids have empty fields.
  std::string storage_;
  std::vector<std::uint32_t> bounds_;
  std::vector<std::uint8_t> flags_;
  StringMap<TokenId> ids_by_text_;
};

}  // namespace fathom::tokenizer
