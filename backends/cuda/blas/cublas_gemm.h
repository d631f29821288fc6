// Dense products through cuBLAS, in the layout of the rest of the backend: row-major
// y[M][N] (row stride ldy) = x[M][K] · W[N][K]ᵀ, computed as the column-major yᵀ = W · xᵀ
// (cuBLAS A = W with op T, B = x with op N). Accumulation is f32 in both.
#pragma once

#include <cstdint>

#include "blas/blas_context.h"

namespace fathom::cuda {

// x and W bf16, y f32 (tensor cores).
void gemm_bf16(BlasContext& blas, const uint16_t* x, const uint16_t* w, float* y, int64_t m, int64_t n, int64_t k,
               int64_t ldy);
// x, W and y f32 (plain f32 arithmetic: the handle's math mode excludes TF32).
void gemm_f32(BlasContext& blas, const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k, int64_t ldx,
              int64_t ldy);

}  // namespace fathom::cuda
