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
    size_t reuse = 0;  // leading prompt positions whose entries the slot holds once copy_from is copied
    // When set: copy the first `reuse` positions of this (free) slot's entries into `slot` first.
    std::optional<size_t> copy_from;
  };
  // Takes a free slot for `prompt`, or nullopt when every slot is busy. The prefix reused is the
  // longest usable one any free slot holds. The slot taken is the one holding it when that costs
  // nothing: the prompt continues everything the slot holds. Otherwise it is the free slot freed
  // longest ago (never-used slots first), and the prefix is copied there, so that a request
  // sharing only a system prompt with a finished conversation leaves that conversation's entries
  // for its next turn. `reuse_prefixes` false: no reuse. `mtp`: the MTP layer's entries must be
  // valid too.
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
  // Leading positions of `prompt` whose entries `held` can give; `whole`: the prompt continues
  // everything `held` holds (taking it loses nothing).
  static size_t reusable(const Contents& held, std::span<const int32_t> prompt, bool mtp, bool* whole = nullptr);

  std::vector<Contents> slots_;
  uint64_t clock_ = 0;
};

}  // namespace fathom::engine
