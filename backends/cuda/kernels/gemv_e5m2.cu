// gemv kernels for e5m2 weights (see gemv_impl.cuh).
#include "kernels/gemv_impl.cuh"

namespace fathom::gpu::gemv_detail {

void launch_e5m2(const GemvParams& params, dim3 grid, int64_t rows, cudaStream_t stream) {
  launch_format<WFmt::e5m2>(params, grid, rows, stream);
}

}  // namespace fathom::gpu::gemv_detail
