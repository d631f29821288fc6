// The [backend.cuda] options (declared in plugin.cpp, documented in docs/configuration.md).
#pragma once

#include <cstdint>
#include <string>

namespace fathom::cuda {

enum class MatmulPrecision {
  // Large products run on tensor cores: FP8 weights through cuBLASLt with activations
  // quantised per 1x128 block, bf16 weights through cuBLAS with activations rounded to bf16;
  // f32 accumulation. Few-row products (decode) are exact either way.
  mixed,
  // Activations stay f32 everywhere; weights are dequantised inside the kernels. Matches the
  // reference backend to f32 rounding (the golden tests use it); slower for prefill.
  f32,
};

struct Options {
  int device = 0;
  MatmulPrecision precision = MatmulPrecision::mixed;
  int64_t gemv_max_tokens = 16;   // products with at most this many rows use the weight-streaming kernel
  bool cuda_graphs = true;        // capture runs of up to graph_max_tokens tokens as CUDA graphs
  int64_t graph_max_tokens = 64;
};

}  // namespace fathom::cuda
