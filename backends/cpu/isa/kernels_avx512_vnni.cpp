// Quantised weights times int8 activations with vpdpbusd (see int8_dot.h). Compiled with
// -mavx512vnni besides the AVX-512 table's flags; like the tables, it includes no standard
// header, so nothing compiled here can be merged into code that runs on CPUs without VNNI.
#include <immintrin.h>

#include "fathom/sdk/ggml_iq_grids.hpp"
#include "isa/int8_dot.h"

namespace fathom::cpu {

namespace {

#include "isa/gemv_blocking.inc"

constexpr int64_t kGroup = kQuantGroup;

// The layout of one block of x (int8_dot.h): weights per block, then offsets of its parts.
template <WFormat Fmt>
struct XBlock {
  static constexpr bool nibbles = nibble_q(Fmt) || nibble_k(Fmt);
  static constexpr bool k_format = kquant(Fmt);
  static constexpr int64_t weights = nibbles ? 128 : 64;
  static constexpr int64_t groups = weights / kGroup;
  static constexpr int64_t codes = weights;  // bytes: nibble formats low halves then high halves; others in order
  // What the unsigned weight codes stand for beyond q: q4 nibbles are q + 8, flipped q8 bytes
  // q + 128, q6k's and q3k's codes q + 32 and q + 4; iq4's and iq4k's nibbles pick IQ4_NL's table
  // values, multiplied as value + 128 (vpshufb). x's starting sums, −offset · Σ c of each group
  // (K formats: sub-block) in its first lane, take it away inside the integer sum. The other K
  // formats' codes are their own, with mins.
  static constexpr int offset = Fmt == WFormat::q4                                                ? 8
                                : Fmt == WFormat::q8 || Fmt == WFormat::iq4 || Fmt == WFormat::iq4k ? 128
                                                                                                    : packed_offset(Fmt);
  static constexpr bool has_min_sums = k_format && offset == 0;  // q4k, q5k, q2k
  static constexpr int64_t sums = codes;  // 16 int32 starting sums (where offset != 0)
  static constexpr int64_t min_sums = sums + (offset != 0 ? 64 : 0);  // 16 f32 dx · Σ c per sub-block
  static constexpr int64_t scales = min_sums + (has_min_sums ? 64 : 0);  // 16 f32
  static constexpr int64_t bytes = scales + 64;
  // Bytes of one row of x with k columns: whole blocks, the last one padded.
  static int64_t x_row_bytes(int64_t k) { return (k + weights - 1) / weights * bytes; }
  static constexpr int lanes_per_group = static_cast<int>(16 / groups);
};

// One row: every group's codes, starting sum and scale into its block; the rest stays zero.
template <WFormat Fmt>
void quantize_row(const float* x, int64_t k, uint8_t* out) {
  using B = XBlock<Fmt>;
  const int64_t bytes = B::x_row_bytes(k);
  for (int64_t i = 0; i < bytes; i += 64) _mm512_store_si512(out + i, _mm512_setzero_si512());
  const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  for (int64_t g = 0; g < k / kGroup; ++g) {
    const __m512 a = _mm512_loadu_ps(x + g * kGroup), b = _mm512_loadu_ps(x + g * kGroup + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(a, sign), _mm512_and_ps(b, sign)));
    uint8_t* block = out + g / B::groups * B::bytes;
    const int64_t j = g % B::groups;
    float* scales = reinterpret_cast<float*>(block + B::scales) + j * B::lanes_per_group;
    // max_ps passes over NaNs: a group holding one gets a NaN scale (and zero codes), so the
    // product is NaN as the f32 kernels' would be, rather than a NaN read as 0.
    if ((_mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q)) != 0) {
      for (int l = 0; l < B::lanes_per_group; ++l) scales[l] = __builtin_nanf("");
      continue;
    }
    if (amax == 0.0f) continue;  // codes, sum and scale stay zero
    const __m512 inv = _mm512_set1_ps(127.0f / amax);
    // Nearest, ties to even (the default rounding mode); |x · inv| <= 127 up to one rounding.
    const __m512i ca = _mm512_cvtps_epi32(_mm512_mul_ps(a, inv)), cb = _mm512_cvtps_epi32(_mm512_mul_ps(b, inv));
    const int sum_a = _mm512_reduce_add_epi32(ca), sum_b = _mm512_reduce_add_epi32(cb);
    if constexpr (B::nibbles) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(block + 16 * j), _mm512_cvtepi32_epi8(ca));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(block + 64 + 16 * j), _mm512_cvtepi32_epi8(cb));
    } else {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(block + 32 * j), _mm512_cvtepi32_epi8(ca));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(block + 32 * j + 16), _mm512_cvtepi32_epi8(cb));
    }
    if constexpr (B::offset != 0) {
      int32_t* sums = reinterpret_cast<int32_t*>(block + B::sums);
      if constexpr (packed_k(Fmt)) {  // a sub-block of 16 each half
        sums[8 * j] = -B::offset * sum_a;
        sums[8 * j + 4] = -B::offset * sum_b;
      } else {
        sums[j * B::lanes_per_group] = -B::offset * (sum_a + sum_b);
      }
    }
    const float dx = amax / 127.0f;
    if constexpr (B::has_min_sums) {  // dx · Σ c per sub-block, in its first lane (of four)
      float* min_sums = reinterpret_cast<float*>(block + B::min_sums);
      if constexpr (nibble_k(Fmt)) {
        min_sums[4 * j] = dx * static_cast<float>(sum_a + sum_b);
      } else {
        min_sums[8 * j] = dx * static_cast<float>(sum_a);
        min_sums[8 * j + 4] = dx * static_cast<float>(sum_b);
      }
    }
    for (int l = 0; l < B::lanes_per_group; ++l) scales[l] = dx;
  }
}

// Register tiles as the AVX-512 table's: M·R accumulators beside the block's weights.
constexpr int kRows[5] = {0, 8, 8, 4, 4};

template <WFormat Fmt>
struct DotGemv : QuantizedRows {
  using W = uint8_t;
  using X = uint8_t;
  using B = XBlock<Fmt>;
  static constexpr int rows_per_tile(int m) { return kRows[m]; }
  static constexpr int64_t kWeightBytes = 64;  // weight codes per block: 128 q4 or 64 q8

  template <int M, int R>
  void tile(const W* w, int64_t, int64_t, const X* x, int64_t ldx, float* y, int64_t ldy, const W* pf) const {
    const uint16_t* s = scales_of(w);
    // Lane l of a block's 16 takes the scale of group l / lanes_per_group.
    const __m512i spread = B::groups == 4 ? _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3)
                                          : _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i nibble = _mm512_set1_epi8(0x0F), flip = _mm512_set1_epi8(static_cast<char>(0x80));
    const __m512i iq4_table = _mm512_broadcast_i32x4(_mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Values)),
                                                                   _mm_set1_epi8(static_cast<char>(0x80))));
    __m512 acc[M][R];
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
    const int64_t blocks = (groups + B::groups - 1) / B::groups;
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t left = groups - b * B::groups;  // groups in this block, if fewer than B::groups
      const __mmask64 code_mask = left >= B::groups ? ~__mmask64{0} : (__mmask64{1} << (left * (kWeightBytes / B::groups))) - 1;
      const __mmask8 scale_mask = static_cast<__mmask8>(left >= B::groups ? (1 << B::groups) - 1 : (1 << left) - 1);
      for (int r = 0; r < R; ++r) {
        const uint8_t* wr = w + r * ldw + b * kWeightBytes;
        if (pf) _mm_prefetch(reinterpret_cast<const char*>(pf + r * ldw + b * kWeightBytes), _MM_HINT_T1);
        const __m512i v = _mm512_maskz_loadu_epi8(code_mask, wr);
        const __m128 d = _mm_cvtph_ps(_mm_maskz_loadu_epi16(scale_mask, s + r * groups + b * B::groups));
        const __m512 dw = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(d));
        for (int m = 0; m < M; ++m) {
          const uint8_t* xb = x + m * ldx + b * B::bytes;
          __m512i sum = _mm512_load_si512(xb + B::sums);
          if constexpr (Fmt == WFormat::q4) {
            sum = _mm512_dpbusd_epi32(sum, _mm512_and_si512(v, nibble), _mm512_load_si512(xb));
            sum = _mm512_dpbusd_epi32(sum, _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble), _mm512_load_si512(xb + 64));
          } else if constexpr (Fmt == WFormat::iq4) {
            sum = _mm512_dpbusd_epi32(sum, _mm512_shuffle_epi8(iq4_table, _mm512_and_si512(v, nibble)), _mm512_load_si512(xb));
            sum = _mm512_dpbusd_epi32(sum, _mm512_shuffle_epi8(iq4_table, _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble)),
                                      _mm512_load_si512(xb + 64));
          } else {
            sum = _mm512_dpbusd_epi32(sum, _mm512_xor_si512(v, flip), _mm512_load_si512(xb));
          }
          const __m512 scale = _mm512_mul_ps(dw, _mm512_load_ps(reinterpret_cast<const float*>(xb + B::scales)));
          acc[m][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), scale, acc[m][r]);
        }
      }
    }
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) y[m * ldy + r] = _mm512_reduce_add_ps(acc[m][r]);
  }
};

#include "isa/int8_dot_entry.inc"


// The integer scales (or mins) of one block of 256 times its f32 one: 16 lanes for the packed
// formats' sub-blocks of 16, the first 8 for q4k's of 32. Computed once per row and block of 256;
// each block of codes then takes its four with one permute.
template <WFormat Fmt>
inline __m512 super_block_scales(const int8_t* integers, float super) {
  const __m128i bytes = !nibble_k(Fmt) ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(integers))
                                      : _mm_loadl_epi64(reinterpret_cast<const __m128i*>(integers));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes)), _mm512_set1_ps(super));
}

#include "isa/packed_codes_avx512.inc"

// Each block of codes is four sub-blocks: four q4k / iq4k groups of 32 nibbles (64 bytes, 128 weights),
// or a packed format's block of 64 codes (q6k 48 bytes, q5k 40, q3k 24, q2k 16), sub-blocks of
// 16; all inside one block of 256. K is a multiple of 256, so blocks are whole. The unsigned
// codes' offsets (q6k's 32, q3k's 4, iq4k's 128: XBlock::offset) are taken away by x's starting
// sums, so each sub-block's integer sum is exact before its scale; q4k's, q5k's and q2k's mins
// are a term of their own (min · dx · Σ c per sub-block).
template <WFormat Fmt, bool Mins>
struct DotGemvK : KRows {
  using W = uint8_t;
  using X = uint8_t;
  using B = XBlock<Fmt>;
  static constexpr int rows_per_tile(int m) { return kRows[m]; }
  static constexpr int64_t kBlocksPerSuper = kKSuperBlock / B::weights;
  static constexpr int64_t kCodeBytes = nibble_k(Fmt) ? 64 : packed_block_bytes(Fmt);
  static constexpr int64_t kSubsPerSuper = kKSuperBlock / (nibble_k(Fmt) ? 32 : 16);

  template <int M, int R>
  void tile(const W* w, int64_t, int64_t, const X* x, int64_t ldx, float* y, int64_t ldy, const W* pf) const {
    const int64_t row0 = row_of(w);
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    // iq4k: kIq4Values + 128 as unsigned bytes, in each 128-bit lane for vpshufb.
    const __m512i iq4_table = _mm512_broadcast_i32x4(
        _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Values)), _mm_set1_epi8(static_cast<char>(0x80))));
    __m512 acc[M][R];
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < supers; ++sb) {
      for (int r = 0; r < R; ++r) {
        const int64_t sub0 = (row0 + r) * subs + sb * kSubsPerSuper, super = (row0 + r) * supers + sb;
        const __m512 dw16 = super_block_scales<Fmt>(s.scale + sub0, s.d[super]);
        __m512 dm16 = _mm512_setzero_ps();
        if constexpr (Mins) dm16 = super_block_scales<Fmt>(s.min + sub0, s.dmin[super]);
        for (int64_t q = 0; q < kBlocksPerSuper; ++q) {
          const int64_t b = sb * kBlocksPerSuper + q;
          const uint8_t* wr = w + r * ldw + b * kCodeBytes;
          if (pf) _mm_prefetch(reinterpret_cast<const char*>(pf + r * ldw + b * kCodeBytes), _MM_HINT_T1);
          __m512i v;
          if constexpr (nibble_k(Fmt)) v = _mm512_loadu_si512(wr);
          else v = packed_codes<Fmt>(wr);
          __m512i low = v, high = v;  // nibble formats: the codes of the low and high nibbles
          if constexpr (nibble_k(Fmt)) {
            low = _mm512_and_si512(v, nibble);
            high = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
            if constexpr (Fmt == WFormat::iq4k) {
              low = _mm512_shuffle_epi8(iq4_table, low);
              high = _mm512_shuffle_epi8(iq4_table, high);
            }
          }
          // Lanes 4i-4i+3 of the block take sub-block 4q + i of the block of 256.
          const __m512i spread = _mm512_add_epi32(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                                                  _mm512_set1_epi32(static_cast<int>(4 * q)));
          const __m512 dw = _mm512_permutexvar_ps(spread, dw16);
          const __m512 dm = Mins ? _mm512_permutexvar_ps(spread, dm16) : dm16;
          for (int m = 0; m < M; ++m) {
            const uint8_t* xb = x + m * ldx + b * B::bytes;
            __m512i sum = B::offset != 0 ? _mm512_load_si512(xb + B::sums) : _mm512_setzero_si512();
            if constexpr (nibble_k(Fmt)) {
              sum = _mm512_dpbusd_epi32(sum, low, _mm512_load_si512(xb));
              sum = _mm512_dpbusd_epi32(sum, high, _mm512_load_si512(xb + 64));
            } else {
              sum = _mm512_dpbusd_epi32(sum, v, _mm512_load_si512(xb));
            }
            const __m512 scale = _mm512_mul_ps(dw, _mm512_load_ps(reinterpret_cast<const float*>(xb + B::scales)));
            acc[m][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), scale, acc[m][r]);
            if constexpr (Mins) {
              acc[m][r] = _mm512_fnmadd_ps(dm, _mm512_load_ps(reinterpret_cast<const float*>(xb + B::min_sums)), acc[m][r]);
            }
          }
        }
      }
    }
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) y[m * ldy + r] = _mm512_reduce_add_ps(acc[m][r]);
  }
};

// ---- prefill on the packed K formats: 16-bit x and weights (int8_dot.h) ----------------------

// One row of x as WideX: per block of 256, codes round(x · kWideLevels / a) (a = max |x| of the
// block), dx · Σ c of each sub-block of 16 (one vector of x), and dx = a / kWideLevels.
void quantize_row_wide(const float* x, int64_t k, uint8_t* out) {
  const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  for (int64_t sb = 0; sb < k / kKSuperBlock; ++sb) {
    const float* xs = x + sb * kKSuperBlock;
    uint8_t* block = out + sb * WideX::bytes;
    for (int64_t i = 0; i < WideX::bytes; i += 64) _mm512_store_si512(block + i, _mm512_setzero_si512());
    __m512 v[16], amax = _mm512_setzero_ps();
    __mmask16 nan = 0;
    for (int i = 0; i < 16; ++i) {
      v[i] = _mm512_loadu_ps(xs + 16 * i);
      amax = _mm512_max_ps(amax, _mm512_and_ps(v[i], sign));
      nan |= _mm512_cmp_ps_mask(v[i], v[i], _CMP_UNORD_Q);
    }
    float* step = reinterpret_cast<float*>(block + WideX::step);
    // As quantize_row: a NaN (which max_ps passes over) makes the step, and so the products, NaN.
    if (nan != 0) {
      *step = __builtin_nanf("");
      continue;
    }
    const float a = _mm512_reduce_max_ps(amax);
    if (a == 0.0f) continue;  // codes, sums and step stay zero
    const __m512 inv = _mm512_set1_ps(static_cast<float>(kWideLevels) / a);
    const float dx = a / static_cast<float>(kWideLevels);
    float* min_sums = reinterpret_cast<float*>(block + WideX::min_sums);
    for (int i = 0; i < 16; ++i) {
      const __m512i c = _mm512_cvtps_epi32(_mm512_mul_ps(v[i], inv));  // nearest, ties to even
      _mm256_store_si256(reinterpret_cast<__m256i*>(block + WideX::codes + 32 * i), _mm512_cvtepi32_epi16(c));
      min_sums[i] = dx * static_cast<float>(_mm512_reduce_add_epi32(c));
    }
    *step = dx;
  }
}

// A packed format's row rebuilt at out (2 · k_len bytes, 64-byte aligned) as 16-bit weights
// (code − packed_offset) · integer scale of the sub-block: the block's d (and its mins) apart. At
// most 32 · 128 = 4096 in magnitude (Q6_K's); the mins' codes are unsigned.
template <WFormat Fmt>
void expand_row_wide(const uint8_t* row, const int8_t* scales, int64_t k_len, uint8_t* out) {
  const __m512i offset = _mm512_set1_epi16(static_cast<short>(packed_offset(Fmt)));
  for (int64_t b = 0; b < k_len / 64; ++b) {
    const __m512i u = packed_codes<Fmt>(row + b * packed_block_bytes(Fmt));
    const __m512i low = _mm512_sub_epi16(_mm512_cvtepu8_epi16(_mm512_castsi512_si256(u)), offset);
    const __m512i high = _mm512_sub_epi16(_mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(u, 1)), offset);
    const int8_t* s = scales + 4 * b;  // sub-blocks of 16: two per 32 weights
    const __m512i s01 = _mm512_inserti64x4(_mm512_set1_epi16(s[0]), _mm256_set1_epi16(s[1]), 1);
    const __m512i s23 = _mm512_inserti64x4(_mm512_set1_epi16(s[2]), _mm256_set1_epi16(s[3]), 1);
    _mm512_store_si512(out + 128 * b, _mm512_mullo_epi16(low, s01));
    _mm512_store_si512(out + 128 * b + 64, _mm512_mullo_epi16(high, s23));
  }
}

// M·R int32 sums of the block of 256 in registers, beside 2 vectors of w and x read from L1 as
// each is used; the f32 accumulators, touched once per block of 256, may live in memory. Four
// rows of w with four of x: 8 % faster prefill of 1024 tokens than two with x held in registers
// (which left the tile bound by loads).
constexpr int kWideRows[5] = {0, 8, 4, 4, 4};

// The rows rebuilt by expand_row_wide (KRows with base the rebuilt rows, ldw 2 · k_len, and the
// scales of the matrix's row 0 of them) times WideX: per block of 256, Σ w · c exact in int32,
// then d · dx · Σ − dmin · Σ_s min_s · dx · Σ c_s.
template <WFormat Fmt, bool Mins>
struct WideGemvK : KRows {
  using W = uint8_t;
  using X = uint8_t;
  static constexpr int rows_per_tile(int m) { return kWideRows[m]; }

  template <int M, int R>
  void tile(const W* w, int64_t, int64_t, const X* x, int64_t ldx, float* y, int64_t ldy, const W*) const {
    const int64_t row0 = row_of(w);
    __m512 acc[M][R];
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < supers; ++sb) {
      __m512i sum[M][R];
      for (int m = 0; m < M; ++m)
        for (int r = 0; r < R; ++r) sum[m][r] = _mm512_setzero_si512();
      for (int64_t q = 0; q < 4; ++q) {  // 64 weights each
        for (int r = 0; r < R; ++r) {
          const uint8_t* wr = w + r * ldw + sb * 512 + 128 * q;
          const __m512i w0 = _mm512_load_si512(wr), w1 = _mm512_load_si512(wr + 64);
          for (int m = 0; m < M; ++m) {
            const uint8_t* xb = x + m * ldx + sb * WideX::bytes + WideX::codes + 128 * q;
            sum[m][r] = _mm512_dpwssd_epi32(sum[m][r], w0, _mm512_load_si512(xb));
            sum[m][r] = _mm512_dpwssd_epi32(sum[m][r], w1, _mm512_load_si512(xb + 64));
          }
        }
      }
      for (int r = 0; r < R; ++r) {
        const int64_t super = (row0 + r) * supers + sb;
        __m512 dm16 = _mm512_setzero_ps();
        if constexpr (Mins) dm16 = super_block_scales<Fmt>(s.min + (row0 + r) * subs + sb * 16, s.dmin[super]);
        for (int m = 0; m < M; ++m) {
          const uint8_t* xb = x + m * ldx + sb * WideX::bytes;
          const float dx = *reinterpret_cast<const float*>(xb + WideX::step);
          acc[m][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[m][r]), _mm512_set1_ps(s.d[super] * dx), acc[m][r]);
          if constexpr (Mins) acc[m][r] = _mm512_fnmadd_ps(dm16, _mm512_load_ps(reinterpret_cast<const float*>(xb + WideX::min_sums)), acc[m][r]);
        }
      }
    }
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) y[m * ldy + r] = _mm512_reduce_add_ps(acc[m][r]);
  }
};

#include "isa/int8_dot_k_entry.inc"

}  // namespace

const Int8DotKernels& avx512_vnni_int8_dot() { return kKernels; }

}  // namespace fathom::cpu
