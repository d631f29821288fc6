// Element-wise ops of two inputs: add (residuals, shared + routed experts) and silu_mul (SwiGLU).
#pragma once

#include <cstdint>

#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

struct BinaryArgs {
  const void* a;
  const void* b;
  void* out;
  uint32_t a_dtype, b_dtype, out_dtype;  // FATHOM_DTYPE_* (float dtypes)
  int64_t n;                             // elements
};

// out = a + b, in f32, rounded once to out's dtype (as the reference does).
void launch_add(const BinaryArgs& args, cudaStream_t stream);
// out = silu(a) * b with silu(g) = g / (1 + e^-g), in f64 like the reference, rounded once.
void launch_silu_mul(const BinaryArgs& args, cudaStream_t stream);

}  // namespace fathom::gpu
