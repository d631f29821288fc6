// Loads of weight matrices for the kernels that stream them (device code): eight consecutive
// weights of a row at a time, dequantised (FP8 block scales included), with one vector load each
// where the matrix allows it. Where a kernel needs several rows, load_rows8 issues every row's
// load before it decodes any: with a use or a branch between them a thread would wait out each
// load's latency in turn, and in the small kernels of a decode step that latency, not bandwidth,
// is what sets the time.
#pragma once

#include <type_traits>

#include "kernels/common.cuh"

namespace fathom::gpu {

constexpr int kWeightVec = 8;  // weights per load

// The storage of eight consecutive weights, as one vector load reads it (two for f32): kept raw
// until every row of a chunk has been loaded, so that the loads are in flight together.
template <WFmt F>
struct Raw8 {
  using Storage = typename WeightFormat<F>::Storage;
  using Vec = std::conditional_t<sizeof(Storage) == 1, uint2, uint4>;
  static constexpr int kVecs = sizeof(Storage) == 4 ? 2 : 1;
  Vec v[kVecs];
};

// Eight weights at p (aligned to their size: 8 bytes for FP8, 16 otherwise).
template <WFmt F>
FATHOM_DEVICE Raw8<F> load_raw8(const typename WeightFormat<F>::Storage* p) {
  Raw8<F> r;
#pragma unroll
  for (int i = 0; i < Raw8<F>::kVecs; ++i) r.v[i] = __ldg(reinterpret_cast<const typename Raw8<F>::Vec*>(p) + i);
  return r;
}

template <WFmt F>
FATHOM_DEVICE void decode8(const Raw8<F>& r, float out[kWeightVec]) {
  using Fmt = WeightFormat<F>;
  if constexpr (sizeof(typename Fmt::Storage) == 1) {  // FP8: four codes per conversion pair (float_codec.cuh)
    fp8x4_to_f32<F == WFmt::e4m3>(r.v[0].x, out);
    fp8x4_to_f32<F == WFmt::e4m3>(r.v[0].y, out + 4);
  } else {
    const uint32_t words[8] = {r.v[0].x, r.v[0].y, r.v[0].z, r.v[0].w,
                               r.v[Raw8<F>::kVecs - 1].x, r.v[Raw8<F>::kVecs - 1].y, r.v[Raw8<F>::kVecs - 1].z, r.v[Raw8<F>::kVecs - 1].w};
    if constexpr (sizeof(typename Fmt::Storage) == 2) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        out[2 * i] = Fmt::decode(static_cast<uint16_t>(words[i] & 0xFFFFu));
        out[2 * i + 1] = Fmt::decode(static_cast<uint16_t>(words[i] >> 16));
      }
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) out[i] = bits_to_f32(words[i]);
    }
  }
}

// Eight consecutive weights W[n][k .. k+7] one element at a time, dequantised; zero beyond K and
// for n < 0. For what vector loads cannot read: unaligned matrices, the end of a row.
template <WFmt F>
FATHOM_DEVICE void load8_elementwise(const MatrixRef& w, int64_t K, int64_t n, int64_t k, float out[kWeightVec]) {
  using Fmt = WeightFormat<F>;
  using S = typename Fmt::Storage;
  if (n < 0) {
#pragma unroll
    for (int v = 0; v < kWeightVec; ++v) out[v] = 0.f;
    return;
  }
  const S* row = static_cast<const S*>(w.data) + row_offset(w, K, n);
  const float s = w.scales ? block_scale(w, n, k) : 1.f;
#pragma unroll
  for (int v = 0; v < kWeightVec; ++v) out[v] = k + v < K ? Fmt::decode(row[k + v]) * s : 0.f;
}

// The two halves of a vector load of W[row][c .. c+7] (row < 0: none): issue_row8 starts the
// load (and the scale's), finish_row8 decodes and scales. A kernel issues all its rows before it
// finishes any.
template <WFmt F>
FATHOM_DEVICE void issue_row8(const MatrixRef& w, int64_t cols, int64_t row, int64_t c, Raw8<F>& raw, float& scale) {
  using S = typename WeightFormat<F>::Storage;
  raw = row >= 0 ? load_raw8<F>(static_cast<const S*>(w.data) + row_offset(w, cols, row) + c) : Raw8<F>{};
  scale = row >= 0 && w.scales ? block_scale(w, row, c) : 1.f;
}

template <WFmt F>
FATHOM_DEVICE void finish_row8(const Raw8<F>& raw, float scale, float out[kWeightVec]) {
  decode8<F>(raw, out);
#pragma unroll
  for (int v = 0; v < kWeightVec; ++v) out[v] *= scale;
}

// Eight weights W[rows[i]][c .. c+7] of each of kRows rows (zeros for a row index < 0, and past
// `cols`), dequantised. With vec_ok (cols and ld multiples of 8, data on 16 bytes) and the eight
// inside the row, all kRows loads are issued before the first is decoded.
template <WFmt F, int kRows>
FATHOM_DEVICE void load_rows8(const MatrixRef& w, int64_t cols, const int64_t (&rows)[kRows], int64_t c, bool vec_ok,
                              float out[kRows][kWeightVec]) {
  if (vec_ok && c + kWeightVec <= cols) {
    Raw8<F> raw[kRows];
    float scale[kRows];
#pragma unroll
    for (int i = 0; i < kRows; ++i) issue_row8<F>(w, cols, rows[i], c, raw[i], scale[i]);
#pragma unroll
    for (int i = 0; i < kRows; ++i) finish_row8<F>(raw[i], scale[i], out[i]);
  } else {
#pragma unroll
    for (int i = 0; i < kRows; ++i) load8_elementwise<F>(w, cols, rows[i], c, out[i]);
  }
}

// Whether load_rows8 may use vector loads on w for rows of `cols` elements.
FATHOM_HD bool weight_rows_vectorisable(const MatrixRef& w, int64_t cols) {
  return cols % kWeightVec == 0 && rows_start_aligned(w);
}

}  // namespace fathom::gpu
