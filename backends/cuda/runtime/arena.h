// Placement of a segment's internal tensors in one device allocation: a tensor occupies its
// range from the node that produces it to the last node that reads it, and tensors whose
// ranges do not overlap may share memory. Greedy first fit in production order.
#pragma once

#include <cstdint>
#include <vector>

namespace fathom::cuda {

struct ArenaRequest {
  uint64_t bytes;
  int64_t first_node, last_node;  // inclusive
};

struct ArenaPlan {
  std::vector<uint64_t> offsets;  // one per request, 256-byte aligned
  uint64_t total = 0;
};

ArenaPlan plan_arena(const std::vector<ArenaRequest>& requests);

}  // namespace fathom::cuda
