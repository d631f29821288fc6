// The E4M3 GEMV by table lookup (see e4m3_lookup.h). Compiled with -mavx512vbmi besides the
// AVX-512 table's flags; like the tables, it includes no standard header, so nothing compiled
// here can be merged into code that runs on CPUs without these instructions.
#include <immintrin.h>

#include "isa/e4m3_lookup.h"

namespace fathom::cpu {

namespace {

#include "isa/e4m3_lookup.inc"

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
  ByteLookup bytes;
  __m512i spread = _mm512_load_si512(kSpread.b);
  __m512i high_halves = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  // The 64 codes at p as f32, weights 16v .. 16v + 15 in out[v].
  void widen(const uint8_t* p, __m512 out[4]) const {
    __m512i lo, hi;
    bytes.bytes(_mm512_permutexvar_epi8(spread, _mm512_loadu_si512(p)), lo, hi);
    const __m512i w0 = _mm512_unpacklo_epi8(lo, hi), w1 = _mm512_unpackhi_epi8(lo, hi);
    out[0] = _mm512_castsi512_ps(_mm512_slli_epi32(w0, 16));
    out[1] = _mm512_castsi512_ps(_mm512_and_si512(w0, high_halves));
    out[2] = _mm512_castsi512_ps(_mm512_slli_epi32(w1, 16));
    out[3] = _mm512_castsi512_ps(_mm512_and_si512(w1, high_halves));
  }
};

#include "isa/gemv_blocking.inc"

// M rows of x against R weight rows; 64 weights of each row per step, prefetching the next
// block into L2 (as the AVX-512 table does).
struct LookupGemv {
  using W = uint8_t;
  using X = float;
  static constexpr int rows_per_tile(int m) { return m <= 2 ? 8 : 4; }  // M·R accumulators beside 9 lookup registers
  Lookup lut;

  template <int M, int R>
  void tile(const uint8_t* w, int64_t ldw, int64_t k_len, const float* x, int64_t ldx, float* y, int64_t ldy,
            const uint8_t* pf) const {
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
};

void gemv(const uint8_t* w, int64_t ldw, int64_t rows_w, int64_t k_len, const float* x, int64_t ldx, int64_t rows_x,
          float* y, int64_t ldy) {
  gemv_blocked(LookupGemv{}, w, ldw, rows_w, k_len, x, ldx, rows_x, y, ldy, /*prefetch=*/true);
}

}  // namespace

E4m3Gemv avx512_vbmi_e4m3_gemv() { return gemv; }

}  // namespace fathom::cpu
