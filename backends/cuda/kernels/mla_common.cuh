// Pieces shared by the MLA kernels (device code).
#pragma once

#include "kernels/common.cuh"
#include "kernels/mla_attention.cuh"

namespace fathom::gpu::mla_detail {

constexpr int kHeadsPerBlock = 8;  // one warp per head in mla_attend
constexpr int kTile = 8;           // cache rows staged per step in mla_attend
constexpr int kTokensPerBlock = 8; // tokens sharing one pass over W_UK / W_UV

// Workspace layout (floats): q_abs [T][H][C], o_lat [T][H][C], partial [T][H][splits][C + 2].
inline size_t q_abs_floats(const MlaShape& s, int64_t t) { return static_cast<size_t>(t) * s.heads * s.rank; }
inline size_t partial_floats(const MlaShape& s, int64_t t, int splits) {
  return static_cast<size_t>(t) * s.heads * splits * (s.rank + 2);
}

// Whether token t's slot and position lie in the cache.
FATHOM_DEVICE bool cache_index_ok(const MlaArgs& a, int64_t t) {
  const int32_t slot = a.slots[t], pos = a.positions[t];
  return slot >= 0 && slot < a.shape.slots && pos >= 0 && pos < a.shape.max_len;
}

template <typename Cache>
FATHOM_DEVICE float cache_load(const Cache* c, int64_t i) {
  if constexpr (sizeof(Cache) == 2) {
    return bf16_to_f32(c[i]);
  } else {
    return c[i];
  }
}

}  // namespace fathom::gpu::mla_detail
