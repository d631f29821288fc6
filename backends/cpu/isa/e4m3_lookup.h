// The FP8 (E4M3) GEMV for CPUs with AVX512_VBMI (Ice Lake, Sapphire Rapids, Zen 4): weights
// widened by table lookup instead of arithmetic.
//
// `vpermi2b` looks 64 bytes up at once in a 128-entry byte table (it reads the low 7 bits of
// each index, exactly an E4M3 code without its sign), so two lookups give the high and low byte
// of every weight's bf16 pattern, which holds any E4M3 value exactly (subnormals included); in-lane
// unpacks, a shift and a mask turn those into f32. With one byte permute beforehand to keep the
// weights in order, that is 10 instructions per 64 weights where the AVX-512 table's fp16 route
// (isa.h) needs 20. Measured on one Zen 4 core (fathom_bench_cpu_ops): 1.15-1.3x at M = 1 with
// cold weights (1.25x hot), 1.0-1.1x from M = 2, where the FMAs bound both. The arithmetic after
// the widening is the table's: f32 FMAs, the same blocking and prefetch.
//
// Compiled in its own translation unit with -mavx512vbmi (kernels_avx512_vbmi.cpp), picked at
// run time only where the CPU reports AVX512_VBMI besides the AVX-512 table's extensions.
#pragma once

#include <cstdint>

namespace fathom::cpu {

// IsaKernels::gemv for E4M3 weights, with the same contract: y[m * ldy + r] = Σ_k x[m * ldx + k]
// · w[r][k] with w read as value · 2^-8 and NaN codes as ±480 · 2^-8 (isa.h).
using E4m3Gemv = void (*)(const uint8_t* w, int64_t ldw, int64_t rows_w, int64_t k_len, const float* x, int64_t ldx,
                          int64_t rows_x, float* y, int64_t ldy);

// Whether this CPU runs the kernel (the AVX-512 table's extensions and AVX512_VBMI).
bool cpu_supports_avx512_vbmi();
// The kernel; call only where cpu_supports_avx512_vbmi().
E4m3Gemv avx512_vbmi_e4m3_gemv();

// The same for matmul_precision = "bf16" (kernels_avx512_vbmi_bf16.cpp): x rounded to bf16
// (nearest even), the looked-up weights kept as bf16 words, and each pair of products summed by
// vdpbf16ps (isa/bf16_dot.h) -- half the instructions per weight again, for the compute-bound
// cases (routed experts in prefill). x_scratch holds rows_x · k_len elements, x rearranged.
using E4m3Bf16Gemv = void (*)(const uint8_t* w, int64_t ldw, int64_t rows_w, int64_t k_len, const float* x,
                              int64_t ldx, int64_t rows_x, float* y, int64_t ldy, uint16_t* x_scratch);
// Call only where cpu_supports_avx512_vbmi() and cpu_supports_avx512_bf16() (isa/bf16_dot.h).
E4m3Bf16Gemv avx512_vbmi_bf16_e4m3_gemv();

}  // namespace fathom::cpu
