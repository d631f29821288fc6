// The AVX2 + FMA + F16C table (Haswell, Zen 1 and later). Compiled with those flags only;
// selected at run time when the CPU reports them.
#include <immintrin.h>

#include "isa/isa.h"

namespace fathom::cpu {

namespace {

#include "isa/packed_codes_avx2.inc"

struct V {
  static constexpr const char* name = "avx2";
  static constexpr int W = 8;
  // Weight rows per register tile for 1..4 rows of x: M·R accumulators plus M x-vectors and the
  // weight vectors must fit in the 16 ymm registers.
  static constexpr int kRows[5] = {0, 8, 4, 2, 2};
  using F = __m256;
  using D = __m256d;

  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F round(F v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F pow2i(F n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static float hsum(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  static float hmax(F v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }

  static F load_bf16(const uint16_t* p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  static F load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  // q in the high byte of a 16-bit lane is the e5m2 value as fp16. An arithmetic shift right by
  // one then clearing bit 14 gives S.0EEEE.MMM0000000: the fp16 of the e4m3 value times 2^-8.
  // q8: 8 codes at a time sign-extended to int32 and converted; q · d is exact (isa/quant.h).
  static void q8_group(const int8_t* p, float d, F* out) {
    const F dv = _mm256_set1_ps(d);
    for (int i = 0; i < 4; ++i) {
      const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * i)));
      out[i] = _mm256_mul_ps(_mm256_cvtepi32_ps(q), dv);
    }
  }
  // q4: bytes 0-7 and 8-15 widened to int32; low nibbles are weights 0-15, high ones 16-31.
  // c · d - 8d in one FMA rounds once, as (c - 8) · d does (both exact here).
  static void q4_group(const uint8_t* p, float d, F* out) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m256i lo = _mm256_cvtepu8_epi32(b), hi = _mm256_cvtepu8_epi32(_mm_srli_si128(b, 8));
    const __m256i mask = _mm256_set1_epi32(0x0F);
    const F dv = _mm256_set1_ps(d), offset = _mm256_set1_ps(-8.0f * d);
    out[0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(lo, mask)), dv, offset);
    out[1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(hi, mask)), dv, offset);
    out[2] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(lo, 4)), dv, offset);
    out[3] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(hi, 4)), dv, offset);
  }
  // The K formats (isa.h): code · scale − min in one FMA per 8 weights (code · scale is exact, so
  // the weight rounds once, as the reference's); q6k's and q5k's halves of 16 each with their own.
  static void q4k_group(const uint8_t* p, float scale, float min, F* out) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m256i lo = _mm256_cvtepu8_epi32(b), hi = _mm256_cvtepu8_epi32(_mm_srli_si128(b, 8));
    const __m256i mask = _mm256_set1_epi32(0x0F);
    const F sv = _mm256_set1_ps(scale), mv = _mm256_set1_ps(min);
    out[0] = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_and_si256(lo, mask)), sv, mv);
    out[1] = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_and_si256(hi, mask)), sv, mv);
    out[2] = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(lo, 4)), sv, mv);
    out[3] = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(hi, 4)), sv, mv);
  }
  // iq4k's 32 nibbles as kIq4Values[nibble] · scale: the table's int8 values picked by vpshufb.
  static void iq4k_group(const uint8_t* p, float scale, F* out) {
    const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Values));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), nibble = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(b, nibble));
    const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(b, 4), nibble));
    const F sv = _mm256_set1_ps(scale);
    out[0] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), sv);
    out[1] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), sv);
    out[2] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), sv);
    out[3] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), sv);
  }
  static void halves_of_16(const int8_t* p, const float* scale, const float* min, F* out) {
    for (int i = 0; i < 4; ++i) {
      const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * i)));
      out[i] = _mm256_fmsub_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(scale[i / 2]), _mm256_set1_ps(min[i / 2]));
    }
  }
  // The packed K formats (isa/quant.h): the 32 codes of half `half` of a 64-weight block
  // (packed_codes_avx2.inc) less the format's offset, each 16 times its scale less its min.
  template <WFormat Fmt>
  static void packed_group(const uint8_t* block, int half, const float* scale, const float* min, F* out) {
    __m256i u = packed_half<Fmt>(block, half);
    if constexpr (packed_offset(Fmt) != 0) u = _mm256_sub_epi8(u, _mm256_set1_epi8(packed_offset(Fmt)));
    alignas(32) int8_t codes[32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(codes), u);
    halves_of_16(codes, scale, min, out);
  }
  // The 64 weights of a block: both halves (each 16 with its scale and min).
  template <WFormat Fmt>
  static void packed_block(const uint8_t* block, const float* scale, const float* min, F* out) {
    packed_group<Fmt>(block, 0, scale, min, out);
    packed_group<Fmt>(block, 1, scale + 2, min + 2, out + 4);
  }
  static F load_e4m3(const uint8_t* p) {
    __m128i h = _mm_unpacklo_epi8(_mm_setzero_si128(), _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    h = _mm_and_si128(_mm_srai_epi16(h, 1), _mm_set1_epi16(static_cast<short>(0xBFFF)));
    return _mm256_cvtph_ps(h);
  }
  static F load_e5m2(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_unpacklo_epi8(_mm_setzero_si128(), _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static float scalar_f16(uint16_t bits) { return _cvtsh_ss(bits); }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
  static constexpr bool kPrefetchEveryM = false;  // measured on Zen 3 (see gemv_t)

  static D zero_d() { return _mm256_setzero_pd(); }
  static D add_d(D a, D b) { return _mm256_add_pd(a, b); }
  static void fma_f64(F x, F w, D& a0, D& a1) {
    a0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), _mm256_cvtps_pd(_mm256_castps256_ps128(w)), a0);
    a1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)), _mm256_cvtps_pd(_mm256_extractf128_ps(w, 1)), a1);
  }
  static double hsum_f64(D v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
  }

  static void store_bf16(uint16_t* out, F x) {
    const __m256i bits = _mm256_castps_si256(x);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF))), 16);
    const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
    const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    r = _mm256_blendv_epi8(r, quiet_nan, is_nan);
    // Pack the low halves of the eight 32-bit lanes (packus works per 128-bit lane).
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(packed));
  }

  // 8 × 8: unpacks pair rows, shuffle_ps makes 4 × 4 blocks (u[4g + c], lane L: column 4L + c of
  // rows 4g..4g+3), and one lane permute joins lane L of u[c] and u[4 + c] into row 4L + c.
  static void transpose_tile(const float* in, int64_t ldi, float* out, int64_t ldo) {
    __m256 t[8], u[8];
    for (int k = 0; k < 4; ++k) {
      const __m256 a = _mm256_loadu_ps(in + 2 * k * ldi), b = _mm256_loadu_ps(in + (2 * k + 1) * ldi);
      t[2 * k] = _mm256_unpacklo_ps(a, b);
      t[2 * k + 1] = _mm256_unpackhi_ps(a, b);
    }
    for (int g = 0; g < 2; ++g) {
      u[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
      u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
      u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
      u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
    for (int c = 0; c < 4; ++c) {
      _mm256_storeu_ps(out + c * ldo, _mm256_permute2f128_ps(u[c], u[4 + c], 0x20));
      _mm256_storeu_ps(out + (4 + c) * ldo, _mm256_permute2f128_ps(u[c], u[4 + c], 0x31));
    }
  }
};

#include "isa/kernels_impl.inc"

}  // namespace

const IsaKernels& avx2_kernels() { return kTable; }

}  // namespace fathom::cpu
