// gemv kernels for e4m3 weights (see gemv_impl.cuh).
#include "kernels/gemv_impl.cuh"

namespace fathom::gpu::gemv_detail {

void launch_e4m3(const GemvParams& params, dim3 grid, int64_t rows, cudaStream_t stream) {
  launch_format<WFmt::e4m3>(params, grid, rows, stream);
}

}  // namespace fathom::gpu::gemv_detail
