// y[M][N] = x[M][K] · Wᵀ for many rows of x with weights kept in a compact format that oneDNN
// cannot multiply here (bf16/f16 on CPUs without oneDNN bf16 kernels, FP8 everywhere): tiles of
// kTileRows weight rows are widened to exact f32 (scales applied) into a per-thread buffer that
// stays in L2, and each tile is multiplied by oneDNN's sgemm. Tiles are spread over threads,
// each sgemm then runs on its own thread.
#pragma once

#include <cstdint>

#include "cpu_context.h"
#include "matmul/weight_view.h"

namespace fathom::cpu {

void tiled_multiply(const CpuContext& ctx, const WeightView& w, const float* x, int64_t m, float* y, int threads);

}  // namespace fathom::cpu
