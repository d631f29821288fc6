// Matrix products with many rows, computed exactly (f32 arithmetic, weights dequantised while
// they are staged in shared memory): the backend's path for prefill when tensor cores would
// round the activations (matmul_precision = "f32"), for weight formats cuBLAS does not take,
// and the HIP backend's general matmul (bf16 activations x bf16 weights included).
// See matmul_problem.cuh for what is computed.
#pragma once

#include "kernels/matmul_problem.cuh"

namespace fathom::gpu {

// x_dtype may be F32 (any weight format) or BF16 (BF16 weights, no swiglu).
bool gemm_tiled_supports(uint32_t x_dtype, uint32_t w_dtype, Epilogue epilogue);
void launch_gemm_tiled(const MatmulProblem& p, cudaStream_t stream);

}  // namespace fathom::gpu
