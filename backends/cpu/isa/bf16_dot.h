// The GEMV for matmul_precision = "bf16" on CPUs with AVX512_BF16 (Zen 4, Cooper Lake, Sapphire
// Rapids): activations rounded to bf16 once per call, then `vdpbf16ps` multiplies pairs of bf16
// weights and activations and adds both products to an f32 accumulator.
//
// Against the widening GEMV of isa.h this halves the multiply-adds per weight (one instruction
// takes 32 weights, not 16) and drops the widening altogether, so it lifts the compute-bound
// cases: routed experts in prefill, with ~10 tokens each, and decode on few cores. The price is
// the activations' rounding to bf16 (2^-9 relative), the same one oneDNN's bf16 kernels make for
// larger products, which is why it runs only where bf16 matmuls were asked for.
//
// Compiled in its own translation unit with -mavx512bf16 (kernels_avx512_bf16.cpp), picked at
// run time only where the CPU reports AVX512_BF16 besides the AVX-512 table's extensions.
#pragma once

#include <cstdint>

namespace fathom::cpu {

// y[m * ldy + r] = Σ_k x[m * ldx + k] · w[r * ldw + k] for m < rows_x, r < rows_w, k < k_len;
// x and w are bf16 bits, products exact and summed in f32 (denormal inputs read as zero: the
// instruction ignores MXCSR). Each group of weight rows is read from memory once for all rows of x.
using Bf16DotGemv = void (*)(const uint16_t* w, int64_t ldw, int64_t rows_w, int64_t k_len, const uint16_t* x,
                             int64_t ldx, int64_t rows_x, float* y, int64_t ldy);

// Whether this CPU runs the kernel (AVX-512 F/BW/VL/DQ and AVX512_BF16, with the OS saving zmm).
bool cpu_supports_avx512_bf16();
// The kernel; call only where cpu_supports_avx512_bf16().
Bf16DotGemv avx512_bf16_gemv();

}  // namespace fathom::cpu
