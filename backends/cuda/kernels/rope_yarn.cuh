// Rotary embedding with YaRN frequencies, DeepSeek's interleaved pairs: in each head of x, the
// pairs (x[o + 2i], x[o + 2i + 1]) rotate by pos * inv_freq[i]; everything else is copied.
//
// inv_freq depends only on the attributes, so the host computes it once per node
// (fathom/sdk/yarn.hpp, the table every backend uses), and the kernel reads it.
// The angle is formed in f32 (pos * inv_freq, as every reference implementation does) and its
// cos/sin are taken in f64: angles reach thousands of radians, where f32 sin/cos lose digits.
#pragma once

#include <cstdint>

#include "fathom/plugin_api.h"
#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

struct RopeArgs {
  const void* x;
  const int32_t* positions;
  const float* inv_freq;  // [rope_dim / 2], device
  void* out;
  uint32_t x_dtype, out_dtype;
  int64_t rows, width;  // width = heads * head_dim
  int32_t head_dim, rope_offset, rope_dim;
  float amplitude;
  int64_t x_ld = 0;  // x's row stride in elements (a slice of wider rows); 0: width
};

void launch_rope_yarn(const RopeArgs& args, cudaStream_t stream);

}  // namespace fathom::gpu
