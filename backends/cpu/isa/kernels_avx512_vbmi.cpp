// The E4M3 GEMV by table lookup (see e4m3_lookup.h). Compiled with -mavx512vbmi besides the
// AVX-512 table's flags; like the tables, it includes no standard header, so nothing compiled
// here can be merged into code that runs on CPUs without these instructions.
#include <immintrin.h>

#include "isa/e4m3_lookup.h"

namespace fathom::cpu {

namespace {

// bf16 bits of the GEMV view of E4M3 code c (0..127, no sign): value · 2^-8, which is the fp16
// number with bits c << 7 (isa.h). fp16 exponent e = c >> 3 and mantissa m = c & 7 (its top 3
// bits); normal (e > 0): 2^(e-15) · (1 + m/8), bf16 exponent e + 112. Subnormal (e = 0): m · 2^-17,
// normalised at its top bit p: 2^(p-17) · (m / 2^p), bf16 exponent p + 110.
constexpr uint16_t gemv_bf16_bits(int c) {
  const int e = c >> 3, m = c & 7;
  if (e > 0) return static_cast<uint16_t>((e + 112) << 7 | m << 4);
  if (m == 0) return 0;
  const int p = m >= 4 ? 2 : m >= 2 ? 1 : 0;
  return static_cast<uint16_t>((p + 110) << 7 | (m - (1 << p)) << (7 - p));
}

// Bytes of the lookup tables: [0] low bytes of codes 0..63, [1] of 64..127, [2]/[3] the high bytes.
struct alignas(64) LookupBytes {
  unsigned char b[4][64];
};
constexpr LookupBytes make_lookup() {
  LookupBytes t{};
  for (int c = 0; c < 128; ++c) {
    t.b[c / 64][c % 64] = static_cast<unsigned char>(gemv_bf16_bits(c) & 0xFF);
    t.b[2 + c / 64][c % 64] = static_cast<unsigned char>(gemv_bf16_bits(c) >> 8);
  }
  return t;
}
constexpr LookupBytes kLookup = make_lookup();

// The widening lays bytes out with in-lane unpacks and shifts, which are cheap, where byte
// permutes across the register take a shuffle port for several cycles each on Zen 4 (measured:
// four of them per 64 weights left the kernel no faster than the fp16 route at M = 4). After
// the lookups, the low and high bytes are unpacked to bf16 words; the even words of each dword
// become f32 by a shift, the odd ones by a mask. Code byte b of the permuted input thus lands in
// output (b % 16 % 2) + 2·(b % 16 / 8), element 4·(b / 16) + (b % 8) / 2. One vpermb first puts
// weight 16·v + i where output v, element i, takes it from: natural order, x as it is.
struct alignas(64) Spread {
  unsigned char b[64];
};
constexpr Spread make_spread() {
  Spread s{};
  for (int b = 0; b < 64; ++b) {
    const int lane = b / 16, t = b % 16;
    const int v = t % 2 + 2 * (t / 8), element = 4 * lane + (t % 8) / 2;
    s.b[b] = static_cast<unsigned char>(16 * v + element);
  }
  return s;
}
constexpr Spread kSpread = make_spread();

struct Lookup {
  __m512i lo0, lo1, hi0, hi1, spread, sign, high_halves;
  Lookup() {
    lo0 = _mm512_load_si512(kLookup.b[0]);
    lo1 = _mm512_load_si512(kLookup.b[1]);
    hi0 = _mm512_load_si512(kLookup.b[2]);
    hi1 = _mm512_load_si512(kLookup.b[3]);
    spread = _mm512_load_si512(kSpread.b);
    sign = _mm512_set1_epi8(static_cast<char>(0x80));
    high_halves = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  }
  // The 64 codes at p as f32, weights 16v .. 16v + 15 in out[v].
  void widen(const uint8_t* p, __m512 out[4]) const {
    const __m512i q = _mm512_permutexvar_epi8(spread, _mm512_loadu_si512(p));
    const __m512i lo = _mm512_permutex2var_epi8(lo0, q, lo1);
    const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(hi0, q, hi1), q, sign, 0xF8);  // | (q & 0x80)
    const __m512i w0 = _mm512_unpacklo_epi8(lo, hi), w1 = _mm512_unpackhi_epi8(lo, hi);
    out[0] = _mm512_castsi512_ps(_mm512_slli_epi32(w0, 16));
    out[1] = _mm512_castsi512_ps(_mm512_and_si512(w0, high_halves));
    out[2] = _mm512_castsi512_ps(_mm512_slli_epi32(w1, 16));
    out[3] = _mm512_castsi512_ps(_mm512_and_si512(w1, high_halves));
  }
};

float scalar_gemv_value(uint8_t q) {  // value · 2^-8, exact (the tails)
  const uint32_t bits = static_cast<uint32_t>(gemv_bf16_bits(q & 0x7F) | (q & 0x80) << 8) << 16;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

// M rows of x against R weight rows; 64 weights of each row per step.
template <int M, int R>
void gemv_tile(const Lookup& lut, const uint8_t* w, int64_t ldw, int64_t k_len, const float* x, int64_t ldx, float* y,
               int64_t ldy, const uint8_t* pf) {
  __m512 acc[M][R];
  for (int m = 0; m < M; ++m)
    for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 64 <= k_len; k += 64) {
    for (int r = 0; r < R; ++r) {
      if (pf) _mm_prefetch(reinterpret_cast<const char*>(pf + r * ldw + k), _MM_HINT_T1);
      __m512 wv[4];
      lut.widen(w + r * ldw + k, wv);
      for (int v = 0; v < 4; ++v)
        for (int m = 0; m < M; ++m) acc[m][r] = _mm512_fmadd_ps(_mm512_loadu_ps(x + m * ldx + k + 16 * v), wv[v], acc[m][r]);
    }
  }
  float tail[M][R] = {};
  for (; k < k_len; ++k) {
    for (int r = 0; r < R; ++r) {
      const float wk = scalar_gemv_value(w[r * ldw + k]);
      for (int m = 0; m < M; ++m) tail[m][r] += x[m * ldx + k] * wk;
    }
  }
  for (int m = 0; m < M; ++m)
    for (int r = 0; r < R; ++r) y[m * ldy + r] = _mm512_reduce_add_ps(acc[m][r]) + tail[m][r];
}

// Weight rows per tile when m rows of x share it (M·R accumulators beside 9 lookup registers).
constexpr int kRows[5] = {0, 8, 8, 4, 4};
// As in the tables: kRowBlock weight rows stay in L1/L2 while every row of x passes, and the
// next block is prefetched into L2 meanwhile.
constexpr int64_t kRowBlock = 8;

template <int M>
void gemv_rows_m(const Lookup& lut, const uint8_t* w, int64_t ldw, int64_t rows, int64_t k_len, const float* x,
                 int64_t ldx, float* y, int64_t ldy, const uint8_t* pf) {
  constexpr int R = kRows[M];
  int64_t r = 0;
  for (; r + R <= rows; r += R)
    gemv_tile<M, R>(lut, w + r * ldw, ldw, k_len, x, ldx, y + r, ldy, pf ? pf + r * ldw : nullptr);
  for (; r < rows; ++r) gemv_tile<M, 1>(lut, w + r * ldw, ldw, k_len, x, ldx, y + r, ldy, pf ? pf + r * ldw : nullptr);
}

void gemv(const uint8_t* w, int64_t ldw, int64_t rows_w, int64_t k_len, const float* x, int64_t ldx, int64_t rows_x,
          float* y, int64_t ldy) {
  const Lookup lut;
  for (int64_t r0 = 0; r0 < rows_w; r0 += kRowBlock) {
    const int64_t rn = rows_w - r0 < kRowBlock ? rows_w - r0 : kRowBlock;
    const uint8_t* wb = w + r0 * ldw;
    const uint8_t* next = r0 + kRowBlock + rn <= rows_w ? wb + kRowBlock * ldw : nullptr;
    for (int64_t m0 = 0; m0 < rows_x; m0 += 4) {
      const float* xb = x + m0 * ldx;
      float* yb = y + m0 * ldy + r0;
      const uint8_t* pf = m0 == 0 ? next : nullptr;
      switch (rows_x - m0 < 4 ? rows_x - m0 : 4) {
        case 1: gemv_rows_m<1>(lut, wb, ldw, rn, k_len, xb, ldx, yb, ldy, pf); break;
        case 2: gemv_rows_m<2>(lut, wb, ldw, rn, k_len, xb, ldx, yb, ldy, pf); break;
        case 3: gemv_rows_m<3>(lut, wb, ldw, rn, k_len, xb, ldx, yb, ldy, pf); break;
        default: gemv_rows_m<4>(lut, wb, ldw, rn, k_len, xb, ldx, yb, ldy, pf); break;
      }
    }
  }
}

}  // namespace

E4m3Gemv avx512_vbmi_e4m3_gemv() { return gemv; }

}  // namespace fathom::cpu
