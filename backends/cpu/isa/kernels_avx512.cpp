// The AVX-512 table (Skylake-SP, Ice Lake, Sapphire Rapids, Zen 4 and later): the same kernels
// as kernels_avx2.cpp on 16-float vectors (see kernels_impl.inc). Compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c; selected at run time only when the
// CPU reports all of those.
//
// Measured on a Zen 4 (AVX-512 with BF16) since 2026-11-30; Zen 3 machines compile it only.
#include <immintrin.h>

#include "isa/isa.h"

namespace fathom::cpu {

namespace {

#include "isa/packed_codes_avx512.inc"

struct V {
  static constexpr const char* name = "avx512";
  static constexpr int W = 16;
  // 32 zmm registers: up to 16 accumulators with the x and weight vectors beside them.
  static constexpr int kRows[5] = {0, 8, 8, 4, 4};
  using F = __m512;
  using D = __m512d;

  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F round(F v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F pow2i(F n) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  static float hsum(F v) { return _mm512_reduce_add_ps(v); }
  static float hmax(F v) { return _mm512_reduce_max_ps(v); }

  static F load_bf16(const uint16_t* p) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
  }
  static F load_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  // Same bit trick as the AVX2 table (see there), on 16 bytes.
  static F load_e4m3(const uint8_t* p) {
    __m256i h = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    h = _mm256_and_si256(_mm256_srai_epi16(_mm256_slli_epi16(h, 8), 1), _mm256_set1_epi16(static_cast<short>(0xBFFF)));
    return _mm512_cvtph_ps(h);
  }
  static F load_e5m2(const uint8_t* p) {
    const __m256i h = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm512_cvtph_ps(_mm256_slli_epi16(h, 8));
  }
  static float scalar_f16(uint16_t bits) { return _cvtsh_ss(bits); }
  // q8: 16 codes sign-extended to int32 and converted, twice; q · d is exact (isa/quant.h).
  static void q8_group(const int8_t* p, float d, F* out) {
    const F dv = _mm512_set1_ps(d);
    for (int h = 0; h < 2; ++h) {
      const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * h)));
      out[h] = _mm512_mul_ps(_mm512_cvtepi32_ps(q), dv);
    }
  }
  // q4: a 16-entry table of (c - 8) · d, indexed by each nibble with vpermps (which reads only
  // an index's low four bits, so the low nibbles need no mask): one multiply per group, then one
  // permute per 16 weights.
  static void q4_group(const uint8_t* p, float d, F* out) {
    const F table = _mm512_mul_ps(_mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_ps(d));
    const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    out[0] = _mm512_permutexvar_ps(b, table);
    out[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), table);
  }
  // The K formats (isa.h): q4k's 32 nibbles as code · scale − min, by the same table (each entry
  // rounded once, as the reference rounds the weight).
  static void q4k_group(const uint8_t* p, float scale, float min, F* out) {
    const F table = _mm512_fmsub_ps(_mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                    _mm512_set1_ps(scale), _mm512_set1_ps(min));
    const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    out[0] = _mm512_permutexvar_ps(b, table);
    out[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), table);
  }
  // iq4k's 32 nibbles as kIq4Values[nibble] · scale, by a table of those products (exact).
  static void iq4k_group(const uint8_t* p, float scale, F* out) {
    const F table = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Values)))),
                                  _mm512_set1_ps(scale));
    const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    out[0] = _mm512_permutexvar_ps(b, table);
    out[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), table);
  }
  // The packed K formats (isa/quant.h): the 64 codes of a block (packed_codes_avx512.inc) less
  // the format's offset, then each 16 times its scale less its min in one fused multiply-subtract
  // (code · scale is exact, so one rounding).
  template <WFormat Fmt>
  static void packed_block(const uint8_t* block, const float* scale, const float* min, F* out) {
    __m512i u = packed_codes<Fmt>(block);
    if constexpr (packed_offset(Fmt) != 0) u = _mm512_sub_epi8(u, _mm512_set1_epi8(packed_offset(Fmt)));
    const __m128i q[4] = {_mm512_extracti32x4_epi32(u, 0), _mm512_extracti32x4_epi32(u, 1), _mm512_extracti32x4_epi32(u, 2),
                          _mm512_extracti32x4_epi32(u, 3)};
    for (int i = 0; i < 4; ++i) {
      out[i] = _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q[i])), _mm512_set1_ps(scale[i]), _mm512_set1_ps(min[i]));
    }
  }
  // Into L2 only, and at every M: on Zen 4 (fathom_bench_cpu_ops, one core, cold weights) that
  // made the GEMV 1.1-1.6x faster than prefetching into L1 from M = 2 (FP8: every M). Weight rows
  // 4 KiB apart (K = 2048 bf16) share one L1 set, so the next block's lines evicted this one's.
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1); }
  static constexpr bool kPrefetchEveryM = true;

  static D zero_d() { return _mm512_setzero_pd(); }
  static D add_d(D a, D b) { return _mm512_add_pd(a, b); }
  static void fma_f64(F x, F w, D& a0, D& a1) {
    a0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(x)), _mm512_cvtps_pd(_mm512_castps512_ps256(w)), a0);
    a1 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(x, 1)), _mm512_cvtps_pd(_mm512_extractf32x8_ps(w, 1)), a1);
  }
  static double hsum_f64(D v) { return _mm512_reduce_add_pd(v); }

  static void store_bf16(uint16_t* out, F x) {
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
    const __m512i quiet_nan = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
    r = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), r, quiet_nan);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_cvtepi32_epi16(r));
  }

  // 16 × 16 in three rounds: unpacks pair rows (2 × 2 blocks per 128-bit lane), shuffle_ps makes
  // 4 × 4 blocks (u[4g + c], lane L: column 4L + c of rows 4g..4g+3), and two rounds of lane
  // shuffles gather lane L of u[c], u[4 + c], u[8 + c], u[12 + c] into output row 4L + c.
  static void transpose_tile(const float* in, int64_t ldi, float* out, int64_t ldo) {
    __m512 t[16], u[16];
    for (int k = 0; k < 8; ++k) {
      const __m512 a = _mm512_loadu_ps(in + 2 * k * ldi), b = _mm512_loadu_ps(in + (2 * k + 1) * ldi);
      t[2 * k] = _mm512_unpacklo_ps(a, b);
      t[2 * k + 1] = _mm512_unpackhi_ps(a, b);
    }
    for (int g = 0; g < 4; ++g) {
      u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
      u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
      u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
      u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
    for (int c = 0; c < 4; ++c) {
      const __m512 p = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), q = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
      const __m512 p2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88), q2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
      _mm512_storeu_ps(out + c * ldo, _mm512_shuffle_f32x4(p, p2, 0x88));
      _mm512_storeu_ps(out + (8 + c) * ldo, _mm512_shuffle_f32x4(p, p2, 0xDD));
      _mm512_storeu_ps(out + (4 + c) * ldo, _mm512_shuffle_f32x4(q, q2, 0x88));
      _mm512_storeu_ps(out + (12 + c) * ldo, _mm512_shuffle_f32x4(q, q2, 0xDD));
    }
  }
};

#include "isa/kernels_impl.inc"

}  // namespace

const IsaKernels& avx512_kernels() { return kTable; }

}  // namespace fathom::cpu
