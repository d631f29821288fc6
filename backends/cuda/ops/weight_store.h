// How the backend holds the weight matrices it multiplies with. The CUDA build keeps them as the
// checkpoint has them (its kernels and cuBLASLt read FP8 directly: ops/weight_store.cpp); the HIP
// build, whose targets have no FP8 matrix instructions under ROCm 5.2, converts FP8 weights to
// bf16 once at compile (backends/hip/weight_store.cpp). Each build links exactly one of the two.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fathom/plugin_api.h"
#include "kernels/matmul_problem.cuh"
#include "ops/op.h"

namespace fathom::cuda {

struct StoredMatrix {
  gpu::MatrixRef ref;
  uint32_t dtype = 0;  // FATHOM_DTYPE_* of ref.data
};

// The answer query_ops gives for a product with weight `w` once the op itself is supported:
// preferred, with a note (shown by `fathom inspect --placement`) when the weight is converted.
fathom_op_support weight_support(const fathom_tensor_desc& w);

// The dtype the kernels will read for a weight of dtype `dtype` bound at compile.
uint32_t stored_dtype(uint32_t dtype);

// The weight at input `i` of a node (scales at i + 1 when block-scaled), which must be bound at
// compile (b.is_constant(i)), as the kernels will read it; any converted copy lives in b.memory.
StoredMatrix store_matrix(const OpBuild& b, size_t i);

}  // namespace fathom::cuda
