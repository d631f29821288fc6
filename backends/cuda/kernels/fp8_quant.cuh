// Per-token 1x128 activation quantisation to FP8 e4m3 for the block-scaled cuBLASLt matmul:
// every 128-element group of a row gets scale = amax / 448 (the e4m3 maximum) and stores
// e4m3(x / scale). The layouts are the ones cuBLASLt's VEC128_32F mode reads for operand B
// (docs/reference/cublaslt-fp8-blockscale.md §0):
//   xq     [padded_rows][K] e4m3, rows >= rows are zero (cuBLAS wants n % 4 == 0);
//   scales [ceil(K/128)][padded_rows] f32, token-contiguous ("M-major"), the transpose of the
//          per-token [rows][K/128] grid, written that way here so no transpose pass is needed.
// Scales are multipliers (value = code * scale); an all-zero group gets scale 1.
#pragma once

#include <cstdint>

#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

struct Fp8QuantArgs {
  const float* x;  // [rows][K], row stride ldx
  int64_t ldx;
  int64_t rows, padded_rows, k;
  uint8_t* xq;     // [padded_rows][K]
  float* scales;   // [ceil(K/128)][padded_rows]
};

void launch_fp8_quant(const Fp8QuantArgs& args, cudaStream_t stream);

}  // namespace fathom::gpu
