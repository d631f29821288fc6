// gemv kernels for bf16 weights (see gemv_impl.cuh).
#include "kernels/gemv_impl.cuh"

namespace fathom::gpu::gemv_detail {

void launch_bf16(const GemvParams& params, dim3 grid, int64_t rows, cudaStream_t stream) {
  launch_format<WFmt::bf16>(params, grid, rows, stream);
}

}  // namespace fathom::gpu::gemv_detail
