#include "fathom/engine/slot_cache.h"

#include <algorithm>

namespace fathom::engine {

SlotCache::SlotCache(size_t slots) : slots_(slots) {}

size_t SlotCache::reusable(const Contents& held, std::span<const int32_t> prompt, bool mtp) {
  const size_t common = static_cast<size_t>(
      std::mismatch(held.tokens.begin(), held.tokens.end(), prompt.begin(), prompt.end()).first - held.tokens.begin());
  // The last prompt token is always prefilled: its logits give the first token.
  size_t reuse = std::min(common, prompt.size() - 1);
  if (mtp) {
    // MTP row i pairs the hidden state at i with token i + 1, so it is valid only below
    // common − 1, and only where the last sequence fed the MTP module.
    reuse = std::min({reuse, common > 0 ? common - 1 : 0, held.mtp_rows});
  }
  return reuse;
}

std::optional<SlotCache::Choice> SlotCache::take(std::span<const int32_t> prompt, bool reuse_prefixes, bool mtp) {
  std::optional<Choice> best;
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    if (slots_[slot].busy) continue;
    const size_t reuse = reuse_prefixes && !prompt.empty() ? reusable(slots_[slot], prompt, mtp) : 0;
    if (!best || reuse > best->reuse ||
        (reuse == best->reuse && slots_[slot].released_at < slots_[best->slot].released_at)) {
      best = Choice{slot, reuse};
    }
  }
  if (best) slots_[best->slot] = Contents{true, {}, 0, 0};  // overwritten from here on
  return best;
}

void SlotCache::give_back(size_t slot, std::vector<int32_t> tokens, size_t mtp_rows) {
  slots_.at(slot) = Contents{false, std::move(tokens), mtp_rows, ++clock_};
}

}  // namespace fathom::engine
