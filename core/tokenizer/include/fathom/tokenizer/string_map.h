// A hash map with std::string keys that can be searched with a string_view,
// so hot lookups do not build a temporary std::string.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fathom::tokenizer {

struct StringViewHash {
  using is_transparent = void;
  // Deliberately not noexcept: libstdc++ then stores each key's hash in its
  // node, so walking a bucket compares stored hashes instead of rehashing
  // every string on the way (which made loading the vocabulary 2x slower).
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <class Value>
using StringMap = std::unordered_map<std::string, Value, StringViewHash, std::equal_to<>>;

}  // namespace fathom::tokenizer
