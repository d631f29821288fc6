// The exact product paths (f32 activations, weights dequantised in the kernels), chosen by row
// count: the weight-streaming gemv kernel up to `gemv_rows` rows (for a grouped problem, rows of
// a typical group: group_rows_hint), the tiled kernel beyond.
// Used by matmul (when no tensor-core path applies), the router and the routed experts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/matmul_problem.cuh"
#include "ops/op.h"

namespace fathom::cuda {

// y[rows, n] = x[rows, k] · W[n, k]ᵀ with x and y contiguous f32; the caller sets p.w[0].
gpu::MatmulProblem dense_problem(uint32_t w_dtype, int64_t n, int64_t k, int64_t rows, const float* x, float* y);

// Workspace for a problem whose (dense) rows or (grouped) max_rows is the largest it will see.
size_t exact_matmul_workspace(const gpu::MatmulProblem& largest, int64_t gemv_rows, int sm_count);
void launch_exact_matmul(const gpu::MatmulProblem& p, int64_t gemv_rows, const OpRun& run, WorkspaceCursor& ws);

}  // namespace fathom::cuda
