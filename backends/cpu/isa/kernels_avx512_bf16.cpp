// The vdpbf16ps GEMV (see bf16_dot.h). Compiled with -mavx512bf16 besides the AVX-512 table's
// flags; like the tables, it includes no standard header, so nothing compiled here can be
// merged into code that runs on CPUs without these instructions.
#include <immintrin.h>

#include "isa/bf16_dot.h"
#include "isa/isa.h"

namespace fathom::cpu {

namespace {

constexpr int64_t kPairs = 32;  // bf16 elements per zmm: 16 pairs

__m512bh load_pairs(const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); }
// The last k_len % 32 elements; the masked-off lanes read as zero and are never touched in memory.
__m512bh load_pairs(const uint16_t* p, __mmask32 mask) { return (__m512bh)_mm512_maskz_loadu_epi16(mask, p); }

#include "isa/gemv_blocking.inc"

// M rows of x against R weight rows, all accumulators in registers (M·R + R + 1 zmm <= 32).
// `pf`, when set, is the same rows of the next row block: requested a line at a time while this
// block is computed (see kernels_impl.inc: one core alone does not keep enough misses in flight),
// into L2 only. Into L1 (T0) it was 1.2-1.6x slower at M = 1-16 (fathom_bench_cpu_ops, Zen 4):
// rows 4 KiB apart (K = 2048) fall in one L1 set, and the next block's lines evicted this one's.
struct Bf16Dot {
  using W = uint16_t;
  using X = uint16_t;
  static constexpr int rows_per_tile(int m) { return m <= 2 ? 8 : 4; }

  template <int M, int R>
  void tile(const uint16_t* w, int64_t ldw, int64_t k_len, const uint16_t* x, int64_t ldx, float* y, int64_t ldy,
            const uint16_t* pf) const {
    __m512 acc[M][R];
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + kPairs <= k_len; k += kPairs) {
      if (pf) {
        for (int r = 0; r < R; ++r) _mm_prefetch(reinterpret_cast<const char*>(pf + r * ldw + k), _MM_HINT_T1);
      }
      __m512bh wv[R];
      for (int r = 0; r < R; ++r) wv[r] = load_pairs(w + r * ldw + k);
      for (int m = 0; m < M; ++m) {
        const __m512bh xv = load_pairs(x + m * ldx + k);
        for (int r = 0; r < R; ++r) acc[m][r] = _mm512_dpbf16_ps(acc[m][r], xv, wv[r]);
      }
    }
    if (k < k_len) {
      const __mmask32 mask = _cvtu32_mask32((1u << (k_len - k)) - 1);  // 1..31 elements left
      __m512bh wv[R];
      for (int r = 0; r < R; ++r) wv[r] = load_pairs(w + r * ldw + k, mask);
      for (int m = 0; m < M; ++m) {
        const __m512bh xv = load_pairs(x + m * ldx + k, mask);
        for (int r = 0; r < R; ++r) acc[m][r] = _mm512_dpbf16_ps(acc[m][r], xv, wv[r]);
      }
    }
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) y[m * ldy + r] = _mm512_reduce_add_ps(acc[m][r]);
  }
};

void gemv(const uint16_t* w, int64_t ldw, int64_t rows_w, int64_t k_len, const uint16_t* x, int64_t ldx,
          int64_t rows_x, float* y, int64_t ldy) {
  gemv_blocked(Bf16Dot{}, w, ldw, rows_w, k_len, x, ldx, rows_x, y, ldy, /*prefetch=*/true);
}

}  // namespace

Bf16DotGemv avx512_bf16_gemv() { return gemv; }

}  // namespace fathom::cpu
