// out[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * w, with the reference's rounding steps:
// the mean of squares in f64, 1/rms rounded to f32, x * (1/rms) in f32, then * w in f32.
//
// With `residual` set (the add_rms_norm fusion: a residual add and the norm that reads its sum),
// x is first replaced by the f32 sum x + residual, which is also written to `sum`: the same
// values the add and rms_norm kernels give one after the other, in one pass over the row. With
// `residual2` too, the sum is x + (residual + residual2), the inner sum rounded first (two adds).
#pragma once

#include <cstdint>

#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

struct RmsNormArgs {
  const void* x;
  const void* w;
  void* out;
  uint32_t x_dtype, w_dtype, out_dtype;
  int64_t rows, width;
  float eps;
  const float* residual = nullptr;  // f32 [rows][width], or null
  const float* residual2 = nullptr;  // f32 [rows][width], or null; only with residual
  float* sum = nullptr;             // f32 [rows][width] when residual is set
  int64_t x_ld = 0;                 // x's row stride in elements (a slice of wider rows); 0: width
};

void launch_rms_norm(const RmsNormArgs& args, cudaStream_t stream);

// The end of a MoE layer for a decode step's tokens (ops/moe_block.cpp): x is not read but
// summed per token from the experts' results per pair (moe_dispatch.cuh, with shared groups):
// the routed ones in slot order, skipping dropped pairs, then the shared groups' parts, then the
// two sums added (the rounding steps of moe_experts, the MLP's product and the add after them),
// and added to `residual` (h); `sum` receives h + that, `out` its norm. x and residual2 unused.
struct MoePairSum {
  const float* y_pairs;    // [T][top_k + shared_groups][width]
  const int32_t* experts;  // [T][top_k]
  int32_t top_k, shared_groups, n_experts;
};
void launch_moe_sum_rms_norm(const RmsNormArgs& args, const MoePairSum& pairs, cudaStream_t stream);

}  // namespace fathom::gpu
