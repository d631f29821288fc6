#include "ops/exact_matmul.h"

#include <algorithm>

#include "kernels/gemm_tiled.cuh"
#include "kernels/gemv.cuh"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

// The rows that decide the kernel: a dense problem's rows, a grouped problem's typical group.
int64_t rows_of(const gpu::MatmulProblem& p) {
  return gpu::grouped(p) ? std::max<int64_t>(1, std::min(p.group_rows_hint, p.max_rows)) : p.rows;
}

}  // namespace

gpu::MatmulProblem dense_problem(uint32_t w_dtype, int64_t n, int64_t k, int64_t rows, const float* x, float* y) {
  gpu::MatmulProblem p;
  p.w_dtype = w_dtype;
  p.n = n;
  p.k = k;
  p.x = x;
  p.ldx = k;
  p.y = y;
  p.ldy = n;
  p.rows = rows;
  return p;
}

size_t exact_matmul_workspace(const gpu::MatmulProblem& largest, int64_t gemv_rows, int sm_count) {
  gpu::MatmulProblem p = largest;
  const int64_t r = std::min({rows_of(p), gemv_rows, gpu::kGemvMaxRows});
  if (r <= 0) return 0;
  p.rows = r;
  return WorkspaceCursor::round(gpu::gemv_workspace_floats(p, sm_count) * sizeof(float));
}

void launch_exact_matmul(const gpu::MatmulProblem& p, int64_t gemv_rows, const OpRun& run, WorkspaceCursor& ws) {
  if (rows_of(p) <= std::min(gemv_rows, gpu::kGemvMaxRows)) {
    const size_t floats = gpu::gemv_workspace_floats(p, run.device.sm_count());
    float* partial = floats ? ws.take<float>(floats) : nullptr;
    gpu::launch_gemv(p, partial, run.device.sm_count(), run.stream);
    FATHOM_CUDA_CHECK_LAUNCH("gemv");
  } else {
    gpu::launch_gemm_tiled(p, run.stream);
    FATHOM_CUDA_CHECK_LAUNCH("gemm_tiled");
  }
}

}  // namespace fathom::cuda
