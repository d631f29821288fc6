// Matrix products with few rows (decode): the weights are streamed once from memory, dequantised
// in registers (FP8 block scales included) and multiplied with f32 activations in f32, so the
// result is exact to f32 rounding whatever the weight format. See matmul_problem.cuh.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/matmul_problem.cuh"
#include "kernels/rms_norm.cuh"

namespace fathom::gpu {

// Rows per pass of the kernel: a dense problem with more rows runs in several passes (each one
// reads the weights again), so callers route larger problems to the tiled kernel or cuBLAS.
constexpr int64_t kGemvMaxRows = 16;
// Rows up to which launch_gemv takes stacked problems (MatmulProblem::stack_split): the decode
// kernel's.
constexpr int64_t kGemvStackMaxRows = 2;

// How a dense problem is split along K to give every multiprocessor work (1 = not split), and
// the f32 workspace that split needs; grouped problems are never split.
int gemv_k_splits(const MatmulProblem& p, int sm_count);
size_t gemv_workspace_floats(const MatmulProblem& p, int sm_count);

// A residual add and an RMSNorm after a dense product of one or two rows, no epilogue and no
// stacking (FusionKind::matmul_add_rms_norm: an attention block's output projection or an MLP's
// down projection, the residual add and the next norm). Each output becomes y = x·Wᵀ + residual
// (the add's f32 rounding), and the last block of the launch to finish normalises the rows of
// y into norm.out: one kernel instead of two. The blocks count themselves in `blocks_done`, a
// device word that must be zero before the first launch; the last block sets it back to zero.
struct GemvNormTail {
  const float* residual = nullptr;  // [rows][n], row stride n
  RmsNormArgs norm{};               // w, out, w_dtype, out_dtype, eps; rows and width are the product's
  unsigned* blocks_done = nullptr;
};

// `workspace` must hold gemv_workspace_floats(p, sm_count) floats (may be null when that is 0).
// `tail`: see GemvNormTail (null: none).
void launch_gemv(const MatmulProblem& p, float* workspace, int sm_count, cudaStream_t stream,
                 const GemvNormTail* tail = nullptr);

}  // namespace fathom::gpu
