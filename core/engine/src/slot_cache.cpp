#include "fathom/engine/slot_cache.h"

#include <algorithm>

namespace fathom::engine {

SlotCache::SlotCache(size_t slots) : slots_(slots) {}

// `whole`: the prompt continues everything `held` holds (taking its slot loses nothing).
size_t SlotCache::reusable(std::span<const int32_t> held, size_t held_mtp_rows, std::span<const int32_t> prompt, bool mtp,
                           bool* whole) {
  if (prompt.empty()) return 0;
  const size_t common =
      static_cast<size_t>(std::mismatch(held.begin(), held.end(), prompt.begin(), prompt.end()).first - held.begin());
  if (whole) *whole = common == held.size();
  // The last prompt token is always prefilled: its logits give the first token.
  size_t reuse = std::min(common, prompt.size() - 1);
  if (mtp) {
    // MTP row i pairs the hidden state at i with token i + 1, so it is valid only below
    // common − 1, and only where the last sequence fed the MTP module.
    reuse = std::min({reuse, common > 0 ? common - 1 : 0, held_mtp_rows});
  }
  return reuse;
}

std::optional<SlotCache::Choice> SlotCache::take(std::span<const int32_t> prompt, bool reuse_prefixes, bool mtp,
                                                 std::span<const Busy> busy) {
  const std::optional<Choice> choice = choose(prompt, reuse_prefixes, mtp, busy);
  if (choice) slots_[choice->slot] = Contents{true, {}, 0, 0};  // overwritten from here on
  return choice;
}

std::optional<SlotCache::Choice> SlotCache::choose(std::span<const int32_t> prompt, bool reuse_prefixes, bool mtp,
                                                   std::span<const Busy> busy) const {
  std::optional<size_t> holder, oldest;  // the slot with the longest prefix; the one freed longest ago
  size_t best = 0, oldest_reuse = 0;
  bool holder_whole = false;
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    const Contents& c = slots_[slot];
    if (c.busy) continue;
    bool whole = false;
    const size_t reuse = reuse_prefixes ? reusable(c.tokens, c.mtp_rows, prompt, mtp, &whole) : 0;
    if (!oldest || c.released_at < slots_[*oldest].released_at) {
      oldest = slot;
      oldest_reuse = reuse;
    }
    // Among equal prefixes, a slot the prompt continues whole: taking it loses nothing.
    if (reuse > best || (reuse == best && reuse > 0 && whole && !holder_whole)) {
      best = reuse;
      holder = slot;
      holder_whole = whole;
    }
  }
  if (!oldest) return std::nullopt;
  Choice choice{*oldest, 0, std::nullopt};
  if (holder && (holder_whole || holder == oldest)) {
    choice = Choice{*holder, best, std::nullopt};
  } else if (holder) {
    choice = oldest_reuse == best ? Choice{*oldest, best, std::nullopt} : Choice{*oldest, best, holder};
  }
  // A running sequence's entries, when they give more, are copied into the slot chosen above
  // (which keeps the prefix it holds itself, if any, up to the copy's length).
  if (reuse_prefixes) {
    for (const Busy& b : busy) {
      const size_t reuse = reusable(b.tokens, b.mtp_rows, prompt, mtp);
      if (reuse > choice.reuse) choice = Choice{choice.slot, reuse, b.slot};
    }
  }
  return choice;
}

void SlotCache::give_back(size_t slot, std::vector<int32_t> tokens, size_t mtp_rows) {
  slots_.at(slot) = Contents{false, std::move(tokens), mtp_rows, ++clock_};
}

}  // namespace fathom::engine
