// Quantised weights times int8 activations on AVX2 (see int8_dot.h): `vpmaddubsw` multiplies 32
// byte pairs (unsigned by signed) and adds neighbours into 16-bit sums, `vpmaddwd` by ones widens
// those to int32 -- two instructions per 32 products, against the 4 FMAs and widening of the f32
// kernels. For CPUs without AVX512_VNNI (Zen 2/3, Haswell to Alder Lake). Compiled with -mavx2
// -mfma -mf16c; like the tables, it includes no standard header.
//
// The 16-bit pair sums must not saturate: q4 codes (0-15) times |c| <= 127 give at most 3810 a
// pair; q8 takes the signs from the weights instead (|q| by sign(q)·c, as the instruction needs one
// unsigned side), at most 2 · 127 · 127 = 32258 < 32767.
//
// x's layout here (the table's own, written by its quantize_rows):
//  - q4, blocks of 64 weights (2 groups), matching 32 bytes of codes whose low nibbles are weights
//    0-15 of each group and high nibbles 16-31: [g0 0-15 | g1 0-15] [g0 16-31 | g1 16-31], then
//    8 int32 starting sums (-8 · Σc of g0 in lane 0, of g1 in lane 4) and 8 f32 scales (dx of g0
//    in lanes 0-3, of g1 in lanes 4-7);
//  - q8, blocks of 32 weights (1 group): the codes, then dx in all 8 f32 lanes (no correction:
//    the weights' codes are signed).
// A last partial q4 block is padded with zero codes and scales.
//
// The K formats (isa.h) take the layouts of q4 (q4k, iq4k) and q8 (the packed ones) with, in place
// of the starting sums, 8 f32 "min sums": dx · Σ c of each sub-block in its first lane (q4k: group
// j in lane 4j; the others: the two halves of 16 in lanes 0 and 4). Their kernels scale the
// integer sums per sub-block (d · integer scale) and take away min · those sums. q6k's and q3k's
// unsigned codes stand for code − 32 and code − 4: their blocks hold int32 starting sums there
// instead, −32 · Σ c (−4 · Σ c) per sub-block, so the integer sums come out exact. No sum of pairs
// saturates: 63 · 127 · 2 = 16002 for q6k.
#include <immintrin.h>

#include "fathom/sdk/ggml_iq_grids.hpp"
#include "isa/int8_dot.h"

namespace fathom::cpu {

namespace {

#include "isa/gemv_blocking.inc"

constexpr int64_t kGroup = kQuantGroup;

template <WFormat Fmt>
struct XBlock {
  static constexpr bool nibbles = nibble_q(Fmt) || nibble_k(Fmt);
  static constexpr bool k_format = kquant(Fmt);
  static constexpr int64_t weights = nibbles ? 64 : 32;
  static constexpr int64_t groups = weights / kGroup;
  static constexpr int64_t sums = weights;      // q4, q6k, q3k: 8 int32 starting sums; other K formats: 8 f32 min sums
  static constexpr int64_t min_sums = weights;
  static constexpr int64_t scales = Fmt == WFormat::q8 ? weights : weights + 32;  // 8 f32
  static constexpr int64_t bytes = scales + 32;
  // Bytes of one row of x with k columns: whole blocks, the last one padded.
  static int64_t x_row_bytes(int64_t k) { return (k + weights - 1) / weights * bytes; }
};

float max_abs(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(a, sign), _mm256_and_ps(b, sign)),
                           _mm256_max_ps(_mm256_and_ps(c, sign), _mm256_and_ps(d, sign)));
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h);
}

float hsum_ps(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h);
}

int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// One row: every group's codes, starting sum and scale into its block; the rest stays zero.
template <WFormat Fmt>
void quantize_row(const float* x, int64_t k, uint8_t* out) {
  using B = XBlock<Fmt>;
  const int64_t bytes = B::x_row_bytes(k);
  for (int64_t i = 0; i < bytes; i += 32) _mm256_store_si256(reinterpret_cast<__m256i*>(out + i), _mm256_setzero_si256());
  for (int64_t g = 0; g < k / kGroup; ++g) {
    const float* xg = x + g * kGroup;
    const __m256 a = _mm256_loadu_ps(xg), b = _mm256_loadu_ps(xg + 8), c = _mm256_loadu_ps(xg + 16),
                 d = _mm256_loadu_ps(xg + 24);
    const float amax = max_abs(a, b, c, d);
    uint8_t* block = out + g / B::groups * B::bytes;
    float* scales = reinterpret_cast<float*>(block + B::scales) + (B::nibbles ? 4 * (g % B::groups) : 0);
    // max_ps passes over NaNs: a group holding one gets a NaN scale (and zero codes), so the
    // product is NaN as the f32 kernels' would be, rather than a NaN read as 0.
    const __m256 nan = _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(a, a, _CMP_UNORD_Q), _mm256_cmp_ps(b, b, _CMP_UNORD_Q)),
                                    _mm256_or_ps(_mm256_cmp_ps(c, c, _CMP_UNORD_Q), _mm256_cmp_ps(d, d, _CMP_UNORD_Q)));
    if (_mm256_movemask_ps(nan) != 0) {
      for (int l = 0; l < (B::nibbles ? 4 : 8); ++l) scales[l] = __builtin_nanf("");
      continue;
    }
    if (amax == 0.0f) continue;  // codes, sum and scale stay zero
    const __m256 inv = _mm256_set1_ps(127.0f / amax);
    // Nearest, ties to even (the default rounding mode), as the AVX-512 kernels round.
    const __m256i ca = _mm256_cvtps_epi32(_mm256_mul_ps(a, inv)), cb = _mm256_cvtps_epi32(_mm256_mul_ps(b, inv)),
                  cc = _mm256_cvtps_epi32(_mm256_mul_ps(c, inv)), cd = _mm256_cvtps_epi32(_mm256_mul_ps(d, inv));
    const int first_half = hsum_i32(_mm256_add_epi32(ca, cb)), second_half = hsum_i32(_mm256_add_epi32(cc, cd));
    const int sum = first_half + second_half;
    // The packs interleave 128-bit lanes; one permute of dwords puts the 32 codes back in order.
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(ca, cb), _mm256_packs_epi32(cc, cd));
    const __m256i codes = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    const float dx = amax / 127.0f;
    if constexpr (B::nibbles) {
      const int64_t j = g % B::groups;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(block + 16 * j), _mm256_castsi256_si128(codes));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(block + 32 + 16 * j), _mm256_extracti128_si256(codes, 1));
      if constexpr (Fmt == WFormat::q4) reinterpret_cast<int32_t*>(block + B::sums)[4 * j] = -8 * sum;
      else reinterpret_cast<float*>(block + B::min_sums)[4 * j] = dx * static_cast<float>(sum);
      for (int l = 0; l < 4; ++l) scales[l] = dx;
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(block), codes);
      if constexpr (B::k_format && packed_offset(Fmt) != 0) {  // q6k, q3k: starting sums per sub-block of 16
        reinterpret_cast<int32_t*>(block + B::sums)[0] = -packed_offset(Fmt) * first_half;
        reinterpret_cast<int32_t*>(block + B::sums)[4] = -packed_offset(Fmt) * second_half;
      } else if constexpr (B::k_format) {
        reinterpret_cast<float*>(block + B::min_sums)[0] = dx * static_cast<float>(first_half);
        reinterpret_cast<float*>(block + B::min_sums)[4] = dx * static_cast<float>(second_half);
      }
      for (int l = 0; l < 8; ++l) scales[l] = dx;
    }
  }
}

// As the AVX2 table: 16 ymm registers hold M·R accumulators beside the block's weights.
constexpr int kRows[5] = {0, 8, 4, 2, 2};

template <WFormat Fmt>
struct DotGemv : QuantizedRows {
  using W = uint8_t;
  using X = uint8_t;
  using B = XBlock<Fmt>;
  static constexpr int rows_per_tile(int m) { return kRows[m]; }
  static constexpr int64_t kWeightBytes = 32;  // weight codes per block: 64 q4 or 32 q8

  template <int M, int R>
  void tile(const W* w, int64_t, int64_t, const X* x, int64_t ldx, float* y, int64_t ldy, const W* pf) const {
    const uint16_t* s = scales_of(w);
    const __m256i ones = _mm256_set1_epi16(1), nibble = _mm256_set1_epi8(0x0F);
    const __m256i iq4_table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Values)));
    __m256 acc[M][R];
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
    const int64_t blocks = (groups + B::groups - 1) / B::groups;
    for (int64_t b = 0; b < blocks; ++b) {
      const bool whole = (b + 1) * B::groups <= groups;  // a last q4 block may hold one group
      for (int r = 0; r < R; ++r) {
        const uint8_t* wr = w + r * ldw + b * kWeightBytes;
        const uint16_t* sr = s + r * groups + b * B::groups;
        if (pf && b % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(pf + r * ldw + b * kWeightBytes), _MM_HINT_T1);
        if constexpr (nibble_q(Fmt)) {
          const __m256i v = whole ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr))
                                  : _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wr)));
          __m256i lo = _mm256_and_si256(v, nibble), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
          if constexpr (Fmt == WFormat::iq4) {  // the table's signed values
            lo = _mm256_shuffle_epi8(iq4_table, lo);
            hi = _mm256_shuffle_epi8(iq4_table, hi);
          }
          int two = *sr;  // both groups' f16 scales, or the one of a last half block
          if (whole) __builtin_memcpy(&two, sr, 4);
          const __m128 d2 = _mm_cvtph_ps(_mm_cvtsi32_si128(two));
          const __m256 dw = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(d2), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
          for (int m = 0; m < M; ++m) {
            const uint8_t* xb = x + m * ldx + b * B::bytes;
            const __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(xb)),
                          x1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(xb + 32));
            __m256i sum;
            if constexpr (Fmt == WFormat::iq4) {  // signed on both sides: as iq4k's (DotGemvK)
              const __m256i p0 = _mm256_maddubs_epi16(_mm256_sign_epi8(x0, x0), _mm256_sign_epi8(lo, x0));
              const __m256i p1 = _mm256_maddubs_epi16(_mm256_sign_epi8(x1, x1), _mm256_sign_epi8(hi, x1));
              sum = _mm256_add_epi32(_mm256_madd_epi16(p0, ones), _mm256_madd_epi16(p1, ones));
            } else {
              const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(lo, x0), _mm256_maddubs_epi16(hi, x1));
              sum = _mm256_add_epi32(_mm256_madd_epi16(pairs, ones), _mm256_load_si256(reinterpret_cast<const __m256i*>(xb + B::sums)));
            }
            const __m256 scale = _mm256_mul_ps(dw, _mm256_load_ps(reinterpret_cast<const float*>(xb + B::scales)));
            acc[m][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[m][r]);
          }
        } else {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr));
          const __m256i magnitude = _mm256_sign_epi8(v, v);  // |q|: codes are never -128
          const __m256 dw = _mm256_set1_ps(_cvtsh_ss(*sr));
          for (int m = 0; m < M; ++m) {
            const uint8_t* xb = x + m * ldx + b * B::bytes;
            const __m256i xs = _mm256_sign_epi8(_mm256_load_si256(reinterpret_cast<const __m256i*>(xb)), v);
            const __m256i sum = _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, xs), ones);
            const __m256 scale = _mm256_mul_ps(dw, _mm256_load_ps(reinterpret_cast<const float*>(xb + B::scales)));
            acc[m][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[m][r]);
          }
        }
      }
    }
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) y[m * ldy + r] = hsum_ps(acc[m][r]);
  }
};

#include "isa/int8_dot_entry.inc"

// ---- the K formats -------------------------------------------------------------------------

// The integer scales (or mins) of one block of 256 times its f32 one: sub-blocks 0-7 in the first
// vector, 8-15 (the packed formats' sub-blocks of 16) in the second. Computed once per row and
// block of 256; each block of codes then takes its two with one permute.
template <WFormat Fmt>
inline void super_block_scales(const int8_t* integers, float super, __m256* out) {
  const __m256 d = _mm256_set1_ps(super);
  const __m128i low = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(integers));
  out[0] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(low)), d);
  if constexpr (!nibble_k(Fmt)) {
    const __m128i high = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(integers + 8));
    out[1] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(high)), d);
  } else {
    out[1] = out[0];
  }
}

#include "isa/packed_codes_avx2.inc"

// x blocks of 64 weights (q4k) or 32 (the packed formats), each two sub-blocks; K a multiple of
// 256.
template <WFormat Fmt, bool Mins>
struct DotGemvK : KRows {
  using W = uint8_t;
  using X = uint8_t;
  using B = XBlock<Fmt>;
  static constexpr int rows_per_tile(int m) { return kRows[m]; }
  static constexpr int64_t kBlocksPerSuper = kKSuperBlock / B::weights;

  template <int M, int R>
  void tile(const W* w, int64_t, int64_t, const X* x, int64_t ldx, float* y, int64_t ldy, const W* pf) const {
    const int64_t row0 = row_of(w);
    const __m256i ones = _mm256_set1_epi16(1), nibble = _mm256_set1_epi8(0x0F);
    // iq4k: kIq4Values as signed bytes in each 128-bit lane, for vpshufb.
    const __m256i iq4_table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Values)));
    __m256 acc[M][R];
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < supers; ++sb) {
      for (int r = 0; r < R; ++r) {
        const uint8_t* wr = w + r * ldw;
        const int64_t sub0 = (row0 + r) * subs + sb * 2 * kBlocksPerSuper, super = (row0 + r) * supers + sb;
        __m256 dw16[2], dm16[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        super_block_scales<Fmt>(s.scale + sub0, s.d[super], dw16);
        if constexpr (Mins) super_block_scales<Fmt>(s.min + sub0, s.dmin[super], dm16);
        for (int64_t q = 0; q < kBlocksPerSuper; ++q) {
          const int64_t b = sb * kBlocksPerSuper + q;
          // Lanes 0-3 of the block take sub-block 2q of the block of 256, lanes 4-7 2q + 1.
          const int first = static_cast<int>(2 * q % 8);
          const __m256i spread = _mm256_setr_epi32(first, first, first, first, first + 1, first + 1, first + 1, first + 1);
          const __m256 dw = _mm256_permutevar8x32_ps(dw16[2 * q / 8], spread);
          const __m256 dm = Mins ? _mm256_permutevar8x32_ps(dm16[2 * q / 8], spread) : dm16[0];
          // The unsigned operands of this block.
          __m256i a0, a1 = _mm256_setzero_si256();
          if constexpr (nibble_k(Fmt)) {
            const __m256i codes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + b * 32));
            a0 = _mm256_and_si256(codes, nibble);
            a1 = _mm256_and_si256(_mm256_srli_epi16(codes, 4), nibble);
            if constexpr (Fmt == WFormat::iq4k) {  // the table's signed values
              a0 = _mm256_shuffle_epi8(iq4_table, a0);
              a1 = _mm256_shuffle_epi8(iq4_table, a1);
            }
          } else {
            a0 = packed_half<Fmt>(wr + b / 2 * packed_block_bytes(Fmt), static_cast<int>(b % 2));
          }
          if (pf) _mm_prefetch(reinterpret_cast<const char*>(pf + r * ldw + b * 32), _MM_HINT_T1);
          for (int m = 0; m < M; ++m) {
            const uint8_t* xb = x + m * ldx + b * B::bytes;
            const __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(xb));
            __m256i sum;
            if constexpr (Fmt == WFormat::iq4k) {
              // Signed codes on both sides: vpmaddubsw takes |x| and the code with x's sign (its
              // pairs stay within 2 · 127 · 127, clear of saturation), widened before adding.
              const __m256i x1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(xb + 32));
              const __m256i p0 = _mm256_maddubs_epi16(_mm256_sign_epi8(x0, x0), _mm256_sign_epi8(a0, x0));
              const __m256i p1 = _mm256_maddubs_epi16(_mm256_sign_epi8(x1, x1), _mm256_sign_epi8(a1, x1));
              sum = _mm256_add_epi32(_mm256_madd_epi16(p0, ones), _mm256_madd_epi16(p1, ones));
            } else if constexpr (Fmt == WFormat::q4k) {
              sum = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(a0, x0),
                                                       _mm256_maddubs_epi16(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(xb + 32)))),
                                      ones);
            } else {  // unsigned codes; q6k's and q3k's offsets taken away by x's starting sums
              sum = _mm256_madd_epi16(_mm256_maddubs_epi16(a0, x0), ones);
              if constexpr (packed_offset(Fmt) != 0)
                sum = _mm256_add_epi32(sum, _mm256_load_si256(reinterpret_cast<const __m256i*>(xb + B::sums)));
            }
            const __m256 scale = _mm256_mul_ps(dw, _mm256_load_ps(reinterpret_cast<const float*>(xb + B::scales)));
            acc[m][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[m][r]);
            if constexpr (Mins) {
              acc[m][r] = _mm256_fnmadd_ps(dm, _mm256_load_ps(reinterpret_cast<const float*>(xb + B::min_sums)), acc[m][r]);
            }
          }
        }
      }
    }
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) y[m * ldy + r] = hsum_ps(acc[m][r]);
  }
};

// ---- prefill on the packed K formats: 16-bit x and weights (int8_dot.h) ----------------------

// One row of x as WideX: per block of 256, codes round(x · kWideLevels / a) (a = max |x| of the
// block), dx · Σ c of each sub-block of 16 (two vectors of x), and dx = a / kWideLevels.
void quantize_row_wide(const float* x, int64_t k, uint8_t* out) {
  for (int64_t sb = 0; sb < k / kKSuperBlock; ++sb) {
    const float* xs = x + sb * kKSuperBlock;
    uint8_t* block = out + sb * WideX::bytes;
    for (int64_t i = 0; i < WideX::bytes; i += 32) _mm256_store_si256(reinterpret_cast<__m256i*>(block + i), _mm256_setzero_si256());
    float a = 0.0f;
    __m256 nan = _mm256_setzero_ps();
    for (int i = 0; i < 32; i += 4) {
      const __m256 v0 = _mm256_loadu_ps(xs + 8 * i), v1 = _mm256_loadu_ps(xs + 8 * i + 8), v2 = _mm256_loadu_ps(xs + 8 * i + 16),
                   v3 = _mm256_loadu_ps(xs + 8 * i + 24);
      const float m = max_abs(v0, v1, v2, v3);
      a = m > a ? m : a;
      nan = _mm256_or_ps(nan, _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(v0, v0, _CMP_UNORD_Q), _mm256_cmp_ps(v1, v1, _CMP_UNORD_Q)),
                                           _mm256_or_ps(_mm256_cmp_ps(v2, v2, _CMP_UNORD_Q), _mm256_cmp_ps(v3, v3, _CMP_UNORD_Q))));
    }
    float* step = reinterpret_cast<float*>(block + WideX::step);
    // As quantize_row: a NaN (which max_ps passes over) makes the step, and so the products, NaN.
    if (_mm256_movemask_ps(nan) != 0) {
      *step = __builtin_nanf("");
      continue;
    }
    if (a == 0.0f) continue;  // codes, sums and step stay zero
    const __m256 inv = _mm256_set1_ps(static_cast<float>(kWideLevels) / a);
    const float dx = a / static_cast<float>(kWideLevels);
    float* min_sums = reinterpret_cast<float*>(block + WideX::min_sums);
    for (int i = 0; i < 16; ++i) {  // sub-blocks of 16
      const __m256i c0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xs + 16 * i), inv));
      const __m256i c1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xs + 16 * i + 8), inv));
      // The pack interleaves 128-bit lanes; one permute of quadwords puts the 16 codes in order.
      const __m256i codes = _mm256_permute4x64_epi64(_mm256_packs_epi32(c0, c1), 0xD8);
      _mm256_store_si256(reinterpret_cast<__m256i*>(block + WideX::codes + 32 * i), codes);
      min_sums[i] = dx * static_cast<float>(hsum_i32(_mm256_add_epi32(c0, c1)));
    }
    *step = dx;
  }
}

// A packed format's row rebuilt at out (2 · k_len bytes, 32-byte aligned) as 16-bit weights
// (code − packed_offset) · integer scale of the sub-block: the block's d (and its mins) apart.
template <WFormat Fmt>
void expand_row_wide(const uint8_t* row, const int8_t* scales, int64_t k_len, uint8_t* out) {
  const __m256i offset = _mm256_set1_epi16(static_cast<short>(packed_offset(Fmt)));
  for (int64_t h = 0; h < k_len / 32; ++h) {
    const __m256i u = packed_half<Fmt>(row + h / 2 * packed_block_bytes(Fmt), static_cast<int>(h % 2));
    const __m256i low = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm256_castsi256_si128(u)), offset);
    const __m256i high = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm256_extracti128_si256(u, 1)), offset);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out + 64 * h), _mm256_mullo_epi16(low, _mm256_set1_epi16(scales[2 * h])));
    _mm256_store_si256(reinterpret_cast<__m256i*>(out + 64 * h + 32), _mm256_mullo_epi16(high, _mm256_set1_epi16(scales[2 * h + 1])));
  }
}

// M·R int32 sums of the block of 256 in the loop; the f32 accumulators, touched once per block of
// 256, may live in memory.
constexpr int kWideRows[5] = {0, 4, 4, 2, 2};

// The rows rebuilt by expand_row_wide times WideX, as the AVX-512 tile: per block of 256, Σ w · c
// exact in int32 (vpmaddwd, then added), then d · dx · Σ − dmin · Σ_s min_s · dx · Σ c_s.
template <WFormat Fmt, bool Mins>
struct WideGemvK : KRows {
  using W = uint8_t;
  using X = uint8_t;
  static constexpr int rows_per_tile(int m) { return kWideRows[m]; }

  template <int M, int R>
  void tile(const W* w, int64_t, int64_t, const X* x, int64_t ldx, float* y, int64_t ldy, const W*) const {
    const int64_t row0 = row_of(w);
    __m256 acc[M][R];
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < supers; ++sb) {
      __m256i sum[M][R];
      for (int m = 0; m < M; ++m)
        for (int r = 0; r < R; ++r) sum[m][r] = _mm256_setzero_si256();
      for (int64_t q = 0; q < 8; ++q) {  // 32 weights each
        for (int r = 0; r < R; ++r) {
          const uint8_t* wr = w + r * ldw + sb * 512 + 64 * q;
          const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(wr)),
                        w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(wr + 32));
          for (int m = 0; m < M; ++m) {
            const uint8_t* xb = x + m * ldx + sb * WideX::bytes + WideX::codes + 64 * q;
            const __m256i p = _mm256_add_epi32(_mm256_madd_epi16(w0, _mm256_load_si256(reinterpret_cast<const __m256i*>(xb))),
                                               _mm256_madd_epi16(w1, _mm256_load_si256(reinterpret_cast<const __m256i*>(xb + 32))));
            sum[m][r] = _mm256_add_epi32(sum[m][r], p);
          }
        }
      }
      for (int r = 0; r < R; ++r) {
        const int64_t super = (row0 + r) * supers + sb;
        __m256 dm16[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        if constexpr (Mins) super_block_scales<Fmt>(s.min + (row0 + r) * subs + sb * 16, s.dmin[super], dm16);
        for (int m = 0; m < M; ++m) {
          const uint8_t* xb = x + m * ldx + sb * WideX::bytes;
          const float dx = *reinterpret_cast<const float*>(xb + WideX::step);
          acc[m][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[m][r]), _mm256_set1_ps(s.d[super] * dx), acc[m][r]);
          if constexpr (Mins) {
            const float* min_sums = reinterpret_cast<const float*>(xb + WideX::min_sums);
            acc[m][r] = _mm256_fnmadd_ps(dm16[0], _mm256_load_ps(min_sums), acc[m][r]);
            acc[m][r] = _mm256_fnmadd_ps(dm16[1], _mm256_load_ps(min_sums + 8), acc[m][r]);
          }
        }
      }
    }
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) y[m * ldy + r] = hsum_ps(acc[m][r]);
  }
};

#include "isa/int8_dot_k_entry.inc"

}  // namespace

const Int8DotKernels& avx2_int8_dot() { return kKernels; }

}  // namespace fathom::cpu
