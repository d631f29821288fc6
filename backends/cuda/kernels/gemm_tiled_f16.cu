// Tiled kernels for f16 weights (see gemm_tiled_impl.cuh).
#include "kernels/gemm_tiled_impl.cuh"

namespace fathom::gpu::tiled_detail {

void launch_f16(const MatmulProblem& p, dim3 grid, cudaStream_t stream) { launch_format<float, WFmt::f16>(p, grid, stream); }

}  // namespace fathom::gpu::tiled_detail
