// FP8 (or any float) weights widened to bf16 once, at compile: the HIP targets have no FP8
// matrix instructions under ROCm 5.2, so the products read bf16 there (see ../weight_store.cpp).
#pragma once

#include <cstdint>

#include "kernels/matmul_problem.cuh"
#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

// out[r][c] = bf16(W[r][c] · its block scale), rounded to nearest even.
struct DequantArgs {
  MatrixRef w;
  uint32_t dtype;  // FATHOM_DTYPE_* of w.data
  int64_t rows, cols;
  uint16_t* out;
};

void launch_dequant_bf16(const DequantArgs& args, cudaStream_t stream);

}  // namespace fathom::gpu
