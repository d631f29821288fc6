// Tiled kernels for e5m2 weights (see gemm_tiled_impl.cuh).
#include "kernels/gemm_tiled_impl.cuh"

namespace fathom::gpu::tiled_detail {

void launch_e5m2(const MatmulProblem& p, dim3 grid, cudaStream_t stream) { launch_format<float, WFmt::e5m2>(p, grid, stream); }

}  // namespace fathom::gpu::tiled_detail
