// FP8 weights widened to bf16 once, at compile: the HIP targets have no FP8 matrix instructions
// under ROCm 5.2, so the products read bf16 there (see ../weight_store.cpp).
//
// Every e4m3 and e5m2 value is a bf16 value (fewer mantissa bits, a narrower exponent range), so
// the widening is exact. The block scales are not folded in: the stored matrix keeps them and
// the kernels apply them as they do for FP8, so a product equals the FP8 kernels' to f32
// rounding. (Folding them in would round each weight·scale to bf16's 8 bits.)
#pragma once

#include <cstdint>

#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

// out[i] = bf16(w[i]) for the rows * cols elements of an FP8 matrix.
struct WidenArgs {
  const void* w;
  uint32_t dtype;  // FATHOM_DTYPE_F8_E4M3FN or FATHOM_DTYPE_F8_E5M2
  int64_t rows, cols;
  uint16_t* out;
};

void launch_widen_bf16(const WidenArgs& args, cudaStream_t stream);

}  // namespace fathom::gpu
