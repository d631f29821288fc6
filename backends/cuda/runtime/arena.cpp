#include "runtime/arena.h"

#include <algorithm>
#include <numeric>

namespace fathom::cuda {

ArenaPlan plan_arena(const std::vector<ArenaRequest>& requests) {
  ArenaPlan plan;
  plan.offsets.assign(requests.size(), 0);
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return requests[a].first_node < requests[b].first_node; });
  struct Placed {
    uint64_t begin, end;
    int64_t last_node;
  };
  std::vector<Placed> live;
  for (size_t i : order) {
    const ArenaRequest& r = requests[i];
    const uint64_t bytes = (std::max<uint64_t>(r.bytes, 1) + 255) / 256 * 256;
    // Tensors whose last reader ran before this one is produced are free again.
    std::erase_if(live, [&](const Placed& p) { return p.last_node < r.first_node; });
    std::sort(live.begin(), live.end(), [](const Placed& a, const Placed& b) { return a.begin < b.begin; });
    uint64_t offset = 0;
    for (const Placed& p : live) {
      if (offset + bytes <= p.begin) break;
      offset = std::max(offset, p.end);
    }
    plan.offsets[i] = offset;
    plan.total = std::max(plan.total, offset + bytes);
    live.push_back({offset, offset + bytes, r.last_node});
  }
  return plan;
}

}  // namespace fathom::cuda
