// Basic vocabulary types shared by the tokenizer's components.
#pragma once

#include <cstdint>
#include <limits>

namespace fathom::tokenizer {

// A token id as tokenizer.json numbers it (the model's embedding row).
using TokenId = std::uint32_t;

// Marks "no token" in tables indexed by id or by pair; never a valid id
// (the loader rejects ids this large).
inline constexpr TokenId kNoToken = std::numeric_limits<TokenId>::max();

}  // namespace fathom::tokenizer
