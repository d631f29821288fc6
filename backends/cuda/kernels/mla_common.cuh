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

// Step 1 of MLA: tokens t0 .. t0 + tokens - 1 put their [latent ; k_pe] into
// cache[slot][position], with the block's threads along the row. It runs inside absorb_q (step
// 2, whose first column block of the first head does it) rather than as a kernel of its own:
// only attend (step 3, the next kernel) reads the cache, and so every token's row is there before
// any token attends (tokens of one sequence in one batch see each other causally).
FATHOM_DEVICE void write_cache_rows(const MlaArgs& a, int64_t t0, int tokens) {
  const int64_t row = a.shape.rank + a.shape.rope;
  for (int tt = 0; tt < tokens; ++tt) {
    const int64_t t = t0 + tt;
    if (!cache_index_ok(a, t)) {
      if (threadIdx.x == 0) report_error(a.error, kErrCacheIndex);
      continue;
    }
    const int64_t at = (int64_t{a.slots[t]} * a.shape.max_len + a.positions[t]) * row;
    for (int64_t i = threadIdx.x; i < row; i += blockDim.x) {
      const float v = i < a.shape.rank ? a.latent[t * a.shape.rank + i] : a.k_pe[t * a.shape.rope + (i - a.shape.rank)];
      if (a.cache_dtype == FATHOM_DTYPE_BF16) {
        static_cast<uint16_t*>(a.cache)[at + i] = f32_to_bf16(v);
      } else {
        static_cast<float*>(a.cache)[at + i] = v;
      }
    }
  }
}

}  // namespace fathom::gpu::mla_detail
