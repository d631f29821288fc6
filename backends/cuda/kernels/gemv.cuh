// Matrix products with few rows (decode): the weights are streamed once from memory, dequantised
// in registers (FP8 block scales included) and multiplied with f32 activations in f32, so the
// result is exact to f32 rounding whatever the weight format. See matmul_problem.cuh.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/matmul_problem.cuh"
#include "kernels/moe_route.cuh"
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

// What a product of one or two rows (a dense one without epilogue or stacking; for moe_sum, the
// experts' grouped down product) may be followed by in the same launch, done by the last of its
// blocks to finish: one kernel instead of two. The blocks count themselves in `blocks_done`, a
// device word that must be zero before the first launch; the last block sets it back to zero.
enum class GemvTailKind {
  none,
  // A residual add and an RMSNorm (FusionKind::matmul_add_rms_norm: an attention block's output
  // projection or an MLP's down projection, the residual add and the next norm): each output
  // becomes y = x·Wᵀ + norm.residual (the add's f32 rounding), and the last block normalises
  // the rows of y into norm.out.
  norm,
  // The selection of each token's experts from the router logits y and the grouping of the
  // pairs by expert (the router of FusionKind::route_experts and moe_block; the work of
  // launch_moe_route_dispatch, which route.logits and route.tokens must match).
  route,
  // The end of a MoE layer (FusionKind::moe_block) after the experts' grouped down product,
  // the shared experts folded in: each token's sum of its pairs' results (moe, whose y_pairs
  // is the product's y), plus norm.residual, written to norm.sum and normalised into norm.out
  // (the work of launch_moe_sum_rms_norm; norm.rows tokens of norm.width = n).
  moe_sum,
};
struct GemvTail {
  GemvTailKind kind = GemvTailKind::none;
  unsigned* blocks_done = nullptr;
  RmsNormArgs norm{};               // norm: w, out, residual ([rows][n]), dtypes, eps (rows and width: the product's)
  RouteArgs route{};                // route
  MoeDispatchArgs dispatch{};       // route
  MoePairSum moe{};                 // moe_sum
};

// `workspace` must hold gemv_workspace_floats(p, sm_count) floats (may be null when that is 0).
// `tail`: see GemvTail (null: none).
void launch_gemv(const MatmulProblem& p, float* workspace, int sm_count, cudaStream_t stream, const GemvTail* tail = nullptr);

}  // namespace fathom::gpu
