// The E4M3 GEMV for matmul_precision = "bf16" (see e4m3_lookup.h): weights looked up as bf16
// patterns, activations rounded to bf16, products by vdpbf16ps. Compiled with -mavx512vbmi and
// -mavx512bf16 besides the AVX-512 table's flags; no standard header (see kernels_impl.inc).
#include <immintrin.h>

#include "isa/e4m3_lookup.h"

namespace fathom::cpu {

namespace {

#include "isa/e4m3_lookup.inc"
#include "isa/gemv_blocking.inc"

// After the lookups, unpacking the low and high bytes gives the weights' bf16 words with no
// permute: word 8·L + t of the first vector is weight 16·L + t of the 64 (L the 128-bit lane,
// t < 8), of the second weight 16·L + 8 + t. vdpbf16ps pairs words at equal positions, so x is
// laid out the same way once per call (x_layout) instead of permuting the weights.
constexpr int64_t kStep = 64;

// Rows of x rounded to bf16 (vcvtneps2bf16: nearest even), each 64-block in the words' order
// above; the last k_len % 64 in natural order.
void x_layout(const float* x, int64_t ldx, int64_t rows_x, int64_t k_len, uint16_t* out) {
  for (int64_t m = 0; m < rows_x; ++m) {
    const float* src = x + m * ldx;
    uint16_t* dst = out + m * k_len;
    int64_t k = 0;
    for (; k + kStep <= k_len; k += kStep) {
      __m256i b[4];  // 16 weights' x each: lane L of the 64
      for (int l = 0; l < 4; ++l) b[l] = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + k + 16 * l));
      const __m512i b01 = _mm512_inserti64x4(_mm512_castsi256_si512(b[0]), b[1], 1);
      const __m512i b23 = _mm512_inserti64x4(_mm512_castsi256_si512(b[2]), b[3], 1);
      // 128-bit quarters: the first 8 of each lane's 16, then the second 8.
      _mm512_storeu_si512(dst + k, _mm512_shuffle_i64x2(b01, b23, _MM_SHUFFLE(2, 0, 2, 0)));
      _mm512_storeu_si512(dst + k + 32, _mm512_shuffle_i64x2(b01, b23, _MM_SHUFFLE(3, 1, 3, 1)));
    }
    for (; k < k_len; ++k) {
      const __m128bh one = _mm_cvtneps_pbh(_mm_set_ss(src[k]));
      dst[k] = static_cast<uint16_t>(_mm_extract_epi16((__m128i)one, 0));
    }
  }
}

float bf16_value(uint16_t bits) {
  const uint32_t f = static_cast<uint32_t>(bits) << 16;
  float out;
  __builtin_memcpy(&out, &f, 4);
  return out;
}

struct LookupDot {
  using W = uint8_t;
  using X = uint16_t;  // x_layout's words
  static constexpr int rows_per_tile(int m) { return m <= 2 ? 8 : 4; }
  ByteLookup lut;

  template <int M, int R>
  void tile(const uint8_t* w, int64_t ldw, int64_t k_len, const uint16_t* x, int64_t ldx, float* y, int64_t ldy,
            const uint8_t* pf) const {
    __m512 acc[M][R];
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + kStep <= k_len; k += kStep) {
      for (int r = 0; r < R; ++r) {
        if (pf) _mm_prefetch(reinterpret_cast<const char*>(pf + r * ldw + k), _MM_HINT_T1);
        __m512i lo, hi;
        lut.bytes(_mm512_loadu_si512(w + r * ldw + k), lo, hi);
        const __m512bh w0 = (__m512bh)_mm512_unpacklo_epi8(lo, hi), w1 = (__m512bh)_mm512_unpackhi_epi8(lo, hi);
        for (int m = 0; m < M; ++m) {
          acc[m][r] = _mm512_dpbf16_ps(acc[m][r], (__m512bh)_mm512_loadu_si512(x + m * ldx + k), w0);
          acc[m][r] = _mm512_dpbf16_ps(acc[m][r], (__m512bh)_mm512_loadu_si512(x + m * ldx + k + 32), w1);
        }
      }
    }
    float tail[M][R] = {};
    for (; k < k_len; ++k) {
      for (int r = 0; r < R; ++r) {
        const float wk = scalar_gemv_value(w[r * ldw + k]);
        for (int m = 0; m < M; ++m) tail[m][r] += bf16_value(x[m * ldx + k]) * wk;
      }
    }
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) y[m * ldy + r] = _mm512_reduce_add_ps(acc[m][r]) + tail[m][r];
  }
};

void gemv(const uint8_t* w, int64_t ldw, int64_t rows_w, int64_t k_len, const float* x, int64_t ldx, int64_t rows_x,
          float* y, int64_t ldy, uint16_t* x_scratch) {
  x_layout(x, ldx, rows_x, k_len, x_scratch);
  gemv_blocked(LookupDot{}, w, ldw, rows_w, k_len, x_scratch, k_len, rows_x, y, ldy, /*prefetch=*/true);
}

}  // namespace

E4m3Bf16Gemv avx512_vbmi_bf16_e4m3_gemv() { return gemv; }

}  // namespace fathom::cpu
