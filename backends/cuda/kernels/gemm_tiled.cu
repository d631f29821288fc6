#include <algorithm>

#include "kernels/gemm_tiled_impl.cuh"

namespace fathom::gpu {

bool gemm_tiled_supports(uint32_t x_dtype, uint32_t w_dtype, Epilogue epilogue) {
  if (x_dtype == FATHOM_DTYPE_BF16) return w_dtype == FATHOM_DTYPE_BF16 && epilogue != Epilogue::swiglu;
  if (x_dtype != FATHOM_DTYPE_F32) return false;
  switch (w_dtype) {
    case FATHOM_DTYPE_F32:
    case FATHOM_DTYPE_BF16:
    case FATHOM_DTYPE_F16:
    case FATHOM_DTYPE_F8_E4M3FN:
    case FATHOM_DTYPE_F8_E5M2: return true;
    default: return false;
  }
}

void launch_gemm_tiled(const MatmulProblem& p, cudaStream_t stream) {
  using namespace tiled_detail;
  const int64_t rows = grouped(p) ? p.max_rows : p.rows;
  if (rows <= 0 || p.n <= 0) return;
  // Grouped: a group has at most max_rows rows; row tiles beyond a group's count return at once.
  const int64_t row_tiles = std::min<int64_t>((rows + kBM - 1) / kBM, 65535);
  const dim3 grid(static_cast<unsigned>((p.n + kBN - 1) / kBN), group_grid_rows(p), static_cast<unsigned>(row_tiles));
  if (p.x_dtype == FATHOM_DTYPE_BF16) {
    launch_bf16_x_bf16(p, grid, stream);
    return;
  }
  switch (p.w_dtype) {
    case FATHOM_DTYPE_F32: launch_f32(p, grid, stream); break;
    case FATHOM_DTYPE_BF16: launch_bf16(p, grid, stream); break;
    case FATHOM_DTYPE_F16: launch_f16(p, grid, stream); break;
    case FATHOM_DTYPE_F8_E4M3FN: launch_e4m3(p, grid, stream); break;
    case FATHOM_DTYPE_F8_E5M2: launch_e5m2(p, grid, stream); break;
    default: break;
  }
}

}  // namespace fathom::gpu
