// Pieces shared by the MLA kernels (device code).
#pragma once

#include "kernels/common.cuh"
#include "kernels/mla_attention.cuh"
#include "kernels/norm_rope.cuh"

namespace fathom::gpu::mla_detail {

constexpr int kHeadsPerBlock = 8;  // one warp per head in mla_attend
constexpr int kTile = 8;           // cache rows staged per step in mla_attend

// Workspace layout (floats): q_abs [T][H][C], partial [T][H][splits][C + 2] (then, with a
// prologue, q_pe [T][H][dr]).
inline size_t q_abs_floats(const MlaShape& s, int64_t t) { return static_cast<size_t>(t) * s.heads * s.rank; }
inline size_t partial_floats(const MlaShape& s, int64_t t, int splits) {
  return static_cast<size_t>(t) * s.heads * splits * (s.rank + 2);
}

// q_pe left null: attend reads q's own rope part (MlaArgs::q_pe).
inline MlaArgs with_q_pe(MlaArgs a) {
  if (!a.q_pe) {
    a.q_pe = a.q + a.shape.nope;
    a.q_pe_head_stride = a.shape.nope + a.shape.rope;
    a.q_pe_token_stride = int64_t{a.shape.heads} * a.q_pe_head_stride;
  }
  return a;
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
// With a prologue the row is made here from kv_a's output: the latent normalised (the sum of
// squares is a block reduction, so every thread of the block must call this), k_pe rotated.
FATHOM_DEVICE void write_cache_rows(const MlaArgs& a, int64_t t0, int tokens) {
  __shared__ double scratch[1024 / FATHOM_WARP_SIZE];
  const MlaShape& s = a.shape;
  const MlaPrologue& p = a.prologue;
  const int64_t row = s.rank + s.rope;
  for (int tt = 0; tt < tokens; ++tt) {
    const int64_t t = t0 + tt;
    if (!cache_index_ok(a, t)) {  // the same for the whole block
      if (threadIdx.x == 0) report_error(a.error, kErrCacheIndex);
      continue;
    }
    const int64_t at = (int64_t{a.slots[t]} * s.max_len + a.positions[t]) * row;
    auto store = [&](int64_t i, float v) {
      if (a.cache_dtype == FATHOM_DTYPE_BF16) {
        static_cast<uint16_t*>(a.cache)[at + i] = f32_to_bf16(v);
      } else {
        static_cast<float*>(a.cache)[at + i] = v;
      }
    };
    if (!p.kva) {
      for (int64_t i = threadIdx.x; i < row; i += blockDim.x)
        store(i, i < s.rank ? a.latent[t * s.rank + i] : a.k_pe[t * s.rope + (i - s.rank)]);
      continue;
    }
    const float* latent = p.kva + t * p.kva_ld + p.latent_begin;
    const float* k_pe = p.kva + t * p.kva_ld + p.k_pe_begin;
    double sum_sq = 0;
    for (int64_t i = threadIdx.x; i < s.rank; i += blockDim.x) {
      const double v = latent[i];
      sum_sq += v * v;
    }
    const float inv_rms = rms_inverse(block_sum(sum_sq, scratch), s.rank, p.eps);
    const float pos = static_cast<float>(a.positions[t]);
    for (int64_t i = threadIdx.x; i < row; i += blockDim.x) {
      if (i < s.rank) {
        const float normed = latent[i] * inv_rms;  // as rms_norm_kernel rounds it
        store(i, normed * load_f32(p.norm_w, p.norm_w_dtype, i));
      } else if ((i - s.rank) % 2 == 0) {  // a pair, written by its first element's thread
        const int64_t j = i - s.rank;
        float y0, y1;
        rope_rotate(pos, p.k_inv_freq[j / 2], p.k_amplitude, k_pe[j], k_pe[j + 1], y0, y1);
        store(i, y0);
        store(i + 1, y1);
      }
    }
  }
}

// With a prologue: q's rope part of head h rotated into q_pe, for tokens t0 .. t0 + tokens - 1.
FATHOM_DEVICE void rotate_q_pe(const MlaArgs& a, int h, int64_t t0, int tokens) {
  const MlaShape& s = a.shape;
  const MlaPrologue& p = a.prologue;
  const int pairs = s.rope / 2;
  const int64_t q_row = int64_t{s.heads} * (s.nope + s.rope);
  for (int i = threadIdx.x; i < tokens * pairs; i += blockDim.x) {
    const int64_t t = t0 + i / pairs;
    const int pair = i % pairs;
    const float* x = a.q + t * q_row + int64_t{h} * (s.nope + s.rope) + s.nope + 2 * pair;
    float* y = p.q_pe_out + t * a.q_pe_token_stride + int64_t{h} * a.q_pe_head_stride + 2 * pair;
    rope_rotate(static_cast<float>(a.positions[t]), p.q_inv_freq[pair], p.q_amplitude, x[0], x[1], y[0], y[1]);
  }
}

}  // namespace fathom::gpu::mla_detail
