// The [backend.cuda] and [backend.hip] options (declared in each plugin.cpp, documented in
// docs/configuration.md), read by one function for both plugins.
#pragma once

#include <cstdint>
#include <string>

#include "fathom/plugin_api.h"

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
  bool cuda_graphs = true;        // capture runs of up to graph_max_tokens tokens as CUDA (HIP) graphs
  int64_t graph_max_tokens = 64;
  // Launch kernels with programmatic dependent launch (vendor/launch_mode.h) on devices of
  // compute capability 9.0 and later. The HIP plugin does not declare the option (its launches
  // are never programmatic); the simulator's plugins do, and check the kernels' side of it.
  bool programmatic_launch = true;
  // Time every op with a pair of events, for executable_profile (`fathom bench` breakdowns).
  // Runs then go without graphs and programmatic launches, so that each op's time is its own.
  bool profile_nodes = false;
};

// The options a plugin declared, checked; a key the plugin did not declare never arrives (the
// host rejects it), so the HIP plugin simply does not declare matmul_precision. `graphs_key`
// names the bool for graph replay ("cuda_graphs", "hip_graphs").
Options read_options(const fathom_options& options, const char* graphs_key);

}  // namespace fathom::cuda
