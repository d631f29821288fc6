// The KV-cache slots of an Engine: which are busy, and what each free one still holds, so that a
// new request can reuse the cache entries of its prompt's longest cached prefix (prefix caching).
// A slot's entries stay valid after its sequence ends: position i holds the entry of tokens[i].
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace fathom::engine {

class SlotCache {
 public:
  explicit SlotCache(size_t slots);

  struct Choice {
    size_t slot = 0;
    size_t reuse = 0;  // leading prompt positions whose entries the slot already holds
  };
  // Takes the free slot whose entries hold the longest usable prefix of `prompt`; among equals the
  // one freed longest ago, so that a request with nothing to reuse does not overwrite the
  // conversation that just ended. nullopt when every slot is busy. `reuse_prefixes` false: no
  // reuse. `mtp`: the MTP layer's entries must be valid too.
  std::optional<Choice> take(std::span<const int32_t> prompt, bool reuse_prefixes, bool mtp);
  // Frees `slot`: its entries now hold `tokens` (position i: tokens[i]), and its MTP layer's
  // entries are valid for the first `mtp_rows` positions.
  void give_back(size_t slot, std::vector<int32_t> tokens, size_t mtp_rows);

 private:
  struct Contents {
    bool busy = false;
    std::vector<int32_t> tokens;
    size_t mtp_rows = 0;
    uint64_t released_at = 0;  // clock_ when freed; 0 = never used
  };
  static size_t reusable(const Contents& held, std::span<const int32_t> prompt, bool mtp);

  std::vector<Contents> slots_;
  uint64_t clock_ = 0;
};

}  // namespace fathom::engine
