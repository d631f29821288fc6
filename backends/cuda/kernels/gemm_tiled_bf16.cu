// Tiled kernels for bf16 weights (see gemm_tiled_impl.cuh).
#include "kernels/gemm_tiled_impl.cuh"

namespace fathom::gpu::tiled_detail {

void launch_bf16(const MatmulProblem& p, dim3 grid, cudaStream_t stream) { launch_format<float, WFmt::bf16>(p, grid, stream); }

// bf16 activations x bf16 weights: the plain bf16 GEMM (the HIP backend's, and the benchmark's
// comparison with cuBLAS).
void launch_bf16_x_bf16(const MatmulProblem& p, dim3 grid, cudaStream_t stream) {
  FATHOM_LAUNCH(grid, kThreads, stream, gemm_tiled_kernel<uint16_t, WFmt::bf16, false>)(p);
}

}  // namespace fathom::gpu::tiled_detail
