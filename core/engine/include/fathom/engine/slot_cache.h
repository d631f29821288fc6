// The KV-cache slots of an Engine: which are busy, and what each free one still holds, so that a
// new request can reuse the cache entries of its prompt's longest cached prefix (prefix caching).
// A slot's entries stay valid after its sequence ends: position i holds the entry of tokens[i].
// A busy slot's entries already written (its running sequence's prefilled prompt) can be copied
// too: the engine passes them to take() as Busy.
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
  // What a busy slot holds so far: position i holds the entry of tokens[i]; the MTP layer's
  // entries are valid for the first `mtp_rows` positions.
  struct Busy {
    size_t slot = 0;
    std::span<const int32_t> tokens;
    size_t mtp_rows = 0;
  };
  // Takes a free slot for `prompt`, or nullopt when every slot is busy. The prefix reused is the
  // longest usable one any free slot holds, or any `busy` slot when that is longer (then copied
  // into the free slot taken as below). The slot taken is the one holding it when that costs
  // nothing: the prompt continues everything the slot holds. Otherwise it is the free slot freed
  // longest ago (never-used slots first), and the prefix is copied there, so that a request
  // sharing only a system prompt with a finished conversation leaves that conversation's entries
  // for its next turn. `reuse_prefixes` false: no reuse. `mtp`: the MTP layer's entries must be
  // valid too.
  std::optional<Choice> take(std::span<const int32_t> prompt, bool reuse_prefixes, bool mtp,
                             std::span<const Busy> busy = {});
  // What take() would choose, without taking it.
  std::optional<Choice> choose(std::span<const int32_t> prompt, bool reuse_prefixes, bool mtp,
                               std::span<const Busy> busy = {}) const;
  // Leading positions of `prompt` whose entries a slot holding `held` can give (the last prompt
  // token is always prefilled; with `mtp`, the MTP layer's entries must be valid too).
  static size_t reusable(std::span<const int32_t> held, size_t held_mtp_rows, std::span<const int32_t> prompt, bool mtp,
                         bool* whole = nullptr);
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

  std::vector<Contents> slots_;
  uint64_t clock_ = 0;
};

}  // namespace fathom::engine
