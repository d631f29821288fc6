// Products of quantised weights (q8, q4; isa/quant.h) with activations quantised to int8 too,
// for matmul_precision = "int8". With AVX512_VNNI (kernels_avx512_vnni.cpp), `vpdpbusd` multiplies
// 64 byte pairs and sums them in fours into int32 lanes, so one instruction does the work of four
// f32 FMAs over 16 lanes, and the weights need no widening to float at all (the f32 kernels spend
// most of their instructions there); with AVX2 (kernels_avx2_int8.cpp), `vpmaddubsw` and
// `vpmaddwd` do the same in two steps. This is how llama.cpp runs its Q8_0/Q4_0 weights.
//
// The activations: each row of x, per group of 32 along K (the weights' groups), is quantised to
// codes c = round(x · 127 / a) in [-127, 127] with scale dx = a / 127, a = max |x| of the group.
// The product is then Σ_g dw_g · dx_g · Σ_i q_w,i · c_i: exact integer sums per group, scaled in
// f32. The rounding of x (at most half a step: 1/254 of the group's largest |x|) is the only
// difference from the f32 kernels' product with the same dequantised weights.
//
// vpdpbusd takes unsigned bytes from one side and signed from the other. The weights are the
// unsigned side: q4 codes are stored as q + 8 already, q8 codes are flipped to q + 128 (one xor);
// the extra 8 · Σc or 128 · Σc per group is subtracted by starting its sum at that value.
//
// x is laid out once per call (quantize_rows) in an order of each kernel set's own; the AVX-512
// one, in blocks that match 64 bytes of weight codes:
//  - q4, 128 weights (4 groups) per block: the 64 low nibbles of 4 groups' 64 bytes are weights
//    0-15 of each group, the high nibbles weights 16-31, so the block holds x's codes in that
//    order: [g0 0-15 | g1 0-15 | g2 0-15 | g3 0-15], then the same for 16-31;
//  - q8, 64 weights (2 groups) per block, codes in order;
// then per block 16 int32 starting sums (the correction, in the first lane of each group's lanes)
// and 16 f32 scales (dx of the group each lane belongs to). A last partial block is padded with
// zero codes and scales.
//
// The K formats compute code · scale − min per sub-block: Σ_s dx · (scale_s · Σ q·c − min_s · Σ c).
// Their x blocks are q4's (q4k, iq4k) or q8's (the packed formats: codes in order), with per
// block f32 "min sums" dx · Σ c of each sub-block in its first lane (sub-blocks of 32 for q4k and
// iq4k, 16 for the others) beside the scales, for the formats with mins. The unsigned codes that
// stand for something less (q6k's code − 32, q3k's code − 4; iq4k's nibbles, which pick IQ4_NL's
// signed table values with vpshufb, looked up as value + 128) take starting sums instead, per
// sub-block; on AVX2 iq4k's values are used as themselves, vpsignb giving vpmaddubsw |x| and the
// value with x's sign.
//
// Prefill on the packed K formats (more than four rows of x: wide_x) takes x at 16 bits instead,
// one step per block of 256 (kWideLevels codes each side of 0), and the weights rebuilt once per
// 8 rows as 16-bit integers (code − offset) · integer scale of their sub-block: one `vpdpwssd`
// (`vpmaddwd` on AVX2) per 32 products then sums a whole block of 256 in int32 (at most 16 products
// of |x| <= 16383 and |w| <= 4096 a lane), scaled once by d · dx. With 8-bit x per group of 32, each
// sub-block of 16 had to be scaled in f32 before it could be added: five instructions per 64
// products where this takes two, and x's rounding is 128 times finer. Its layout, per block of 256
// (WideX): the 256 codes as int16, then 16 f32 dx · Σ c of each sub-block of 16 (for the mins),
// then dx.
#pragma once

#include <cstdint>

#include "isa/isa.h"

namespace fathom::cpu {

// Whether rows_x rows of x multiplied with weights of `fmt` at once take the 16-bit layout: the
// I-quants below 4 bits always (they have no 8-bit tile; their rows are rebuilt as 16-bit
// weights, gemv_wide and gemv_grid).
constexpr bool wide_x(WFormat fmt, int64_t rows_x) { return grid_k(fmt) || (packed_k(fmt) && rows_x > 4); }
inline constexpr int kWideLevels = 16383;

// How each row of x is quantised: in groups of `group` along K, each to integer codes
// c = round(x · levels / a), a = max |x| of the group, read as c · a / levels.
struct XGrid {
  int64_t group;
  int levels;
};
constexpr XGrid x_grid(WFormat fmt, int64_t rows_x) {
  return wide_x(fmt, rows_x) ? XGrid{kKSuperBlock, kWideLevels} : XGrid{kQuantGroup, 127};
}

// The 16-bit layout of x, per block of 256 (byte offsets).
struct WideX {
  static constexpr int64_t codes = 0;       // 256 int16
  static constexpr int64_t min_sums = 512;  // 16 f32: dx · Σ c per sub-block of 16
  static constexpr int64_t step = 576;      // f32 dx
  static constexpr int64_t bytes = 640;
  static constexpr int64_t x_row_bytes(int64_t k) { return k / kKSuperBlock * bytes; }
};

struct Int8DotKernels {
  // Bytes of one row of x laid out for weights of `fmt` with k columns, rows_x rows at once.
  int64_t (*x_row_bytes)(WFormat fmt, int64_t k, int64_t rows_x);
  // Lays out rows_x rows of x (stride ldx floats) at out (x_row_bytes each, 64-byte aligned).
  void (*quantize_rows)(WFormat fmt, const float* x, int64_t ldx, int64_t rows_x, int64_t k, uint8_t* out);
  // y[m · ldy + r] = Σ_k x[m][k] · w[r][k] for the rows laid out by quantize_rows, with the
  // contract of IsaKernels::gemv_q for w and scales.
  void (*gemv)(WFormat fmt, const void* w, const uint16_t* scales, int64_t rows_w, int64_t k_len, const uint8_t* x,
               int64_t rows_x, float* y, int64_t ldy);
  // The same for the K formats (q4k and the packed ones; isa.h), `s` the scales of w's first row.
  // k_len is a multiple of 256 (GGUF's K-quant blocks).
  // `expand`, where wide_x, is room for kExpandBytesPerWeight · k_len bytes, 64-byte aligned: the
  // packed formats' rows are rebuilt into it once per 8 weight rows (16-bit weights) instead of
  // once per four rows of x, which made prefill with them compute-bound.
  void (*gemv_k)(WFormat fmt, const void* w, const KScales& s, int64_t rows_w, int64_t k_len, const uint8_t* x,
                 int64_t rows_x, float* y, int64_t ldy, uint8_t* expand);
  // y[m · ldy + r] = d[r · k_len / 256 + b] · Σ w[r][k] · x[m][k] summed over the blocks b of 256:
  // rows_w rows already rebuilt as 16-bit weights (w[r] at w + r · k_len, 64-byte aligned), each
  // block's with one f32 factor, times x laid out as WideX (quantize_rows where wide_x).
  void (*gemv_wide)(const int16_t* w, const float* d, int64_t rows_w, int64_t k_len, const uint8_t* x, int64_t rows_x,
                    float* y, int64_t ldy);
  // Rebuilds `rows` rows of a grid_k matrix (row r's blocks at w + r · ldw bytes) for gemv_wide:
  // 16-bit integers at out + r · k_len (64-byte aligned) and a factor per block of 256 at factors +
  // r · k_len / 256, each weight integer · factor exactly (isa/grid_expand.inc).
  void (*expand_grid)(WFormat fmt, const uint8_t* w, int64_t ldw, int64_t rows, int64_t k_len, int16_t* out,
                      float* factors);
  // y[m · ldy + r] = Σ_k x[m][k] · w[r][k] for a grid_k matrix and rows_x <= 4 rows of x laid out as
  // WideX: the rows rebuilt as expand_grid does, each 32 weights multiplied while in registers.
  void (*gemv_grid)(WFormat fmt, const uint8_t* w, int64_t ldw, int64_t rows, int64_t k_len, const uint8_t* x,
                    int64_t rows_x, float* y, int64_t ldy);
};

// Room `expand` needs per weight of a row (8 rows of 16-bit weights).
inline constexpr int64_t kExpandBytesPerWeight = 16;

// The rows of a K-format matrix as a GEMV tile of the integer kernels reads them: codes, and the
// two levels of scales (isa.h).
struct KRows {
  const uint8_t* base;   // row 0's codes
  int64_t ldw;           // bytes per row
  KScales s;             // row 0's
  int64_t supers, subs;  // per row
  int64_t row_of(const uint8_t* row) const { return (row - base) / ldw; }
};

// Whether this CPU runs them (the AVX-512 table's extensions and AVX512_VNNI).
bool cpu_supports_avx512_vnni();
// The kernels; call only where cpu_supports_avx512_vnni().
const Int8DotKernels& avx512_vnni_int8_dot();
// The AVX2 ones (kernels_avx2_int8.cpp): call only where cpu_supports(Isa::avx2).
const Int8DotKernels& avx2_int8_dot();
// The best of them for kernels of `isa`, or null for the scalar table.
const Int8DotKernels* int8_dot_for(Isa isa);

}  // namespace fathom::cpu
