// y[M][N] = x[M][K] · Wᵀ for few rows of x (decode): the ISA GEMV kernels read each weight once
// in its stored format and widen it in registers, so the bytes read are those of the format
// (FP8: one per weight). Block scales are folded into x instead of the weights: for the 128
// weight rows of one scale block, x'[m][k] = x[m][k] · S[n/128][k/128] (times 2^8 for E4M3, see
// isa.h), so the inner loop is a plain dot product. With matmul_precision = "bf16" on a CPU with
// AVX512_BF16, bf16 weights take the vdpbf16ps kernel instead (isa/bf16_dot.h), on x rounded to
// bf16 once per call; with AVX512_VBMI, E4M3 weights are widened by table lookup
// (isa/e4m3_lookup.h).
#pragma once

#include <cstdint>

#include "cpu_context.h"
#include "matmul/weight_view.h"

namespace fathom::cpu {

// Splits N over up to `threads` threads (1 inside a parallel region).
void gemv_multiply(const CpuContext& ctx, const WeightView& w, const float* x, int64_t m, float* y, int threads);

// y[i][n] += Σ_g w.group_offsets[n][g] · Σ_{k in group g} x[i][k]: the offsets' share of the
// product with q8 weights unpacked from Q4_1 / Q5_1, which gemv_multiply leaves out (x's group
// sums taken once, 1/32 of the product's work).
void add_group_offsets(const CpuContext& ctx, const WeightView& w, const float* x, int64_t m, float* y, int threads);

}  // namespace fathom::cpu
