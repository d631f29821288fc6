// out[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * w, with the reference's rounding steps:
// the mean of squares in f64, 1/rms rounded to f32, x * (1/rms) in f32, then * w in f32.
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
};

void launch_rms_norm(const RmsNormArgs& args, cudaStream_t stream);

}  // namespace fathom::gpu
