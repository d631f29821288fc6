// Tiled kernels for e4m3 weights (see gemm_tiled_impl.cuh).
#include "kernels/gemm_tiled_impl.cuh"

namespace fathom::gpu::tiled_detail {

void launch_e4m3(const MatmulProblem& p, dim3 grid, cudaStream_t stream) { launch_format<float, WFmt::e4m3>(p, grid, stream); }

}  // namespace fathom::gpu::tiled_detail
