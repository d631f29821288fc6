#include <algorithm>
#include <stdexcept>

#include "kernels/gemv_impl.cuh"

namespace fathom::gpu {

namespace {

using gemv_detail::GemvParams;

__global__ void sum_splits_kernel(const float* partial, int splits, int64_t n, const MatmulProblem p) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  // partial[z][r][col] summed over z in order (deterministic), then the epilogue.
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    float s = 0.f;
    for (int z = 0; z < splits; ++z) s += partial[z * n + i];
    const int64_t r = i / p.n, col = i - r * p.n;
    if (p.epilogue == Epilogue::row_scale) s *= p.row_scale[r];
    p.y[r * p.ldy + col] = s;
  }
}

// Blocks along the weight rows: the decode kernel's blocks hold fewer rows than the staging kernel's.
int64_t row_blocks(const MatmulProblem& p, bool decode) {
  const bool dual = p.epilogue == Epilogue::swiglu;
  const int64_t per_block = decode ? (dual ? gemv_detail::kDecodeRowsPerBlock<true> : gemv_detail::kDecodeRowsPerBlock<false>)
                                   : (dual ? gemv_detail::kRowsPerBlock<true> : gemv_detail::kRowsPerBlock<false>);
  return (p.n + per_block - 1) / per_block;
}

// The rows the kernel is instantiated for: a dense problem's rows, a grouped problem's hint.
int64_t kernel_rows(const MatmulProblem& p) {
  const int64_t rows = grouped(p) ? p.max_rows : p.rows;
  return std::min(grouped(p) ? std::clamp<int64_t>(p.group_rows_hint, 1, std::max<int64_t>(rows, 1)) : rows, kGemvMaxRows);
}

// A tail must follow the product it reads. launch_gemv's callers are the backend's own ops, so a
// mismatch is an internal error, not the user's.
void check_tail(const MatmulProblem& p, const GemvTail& tail, int64_t tm_rows) {
  const bool moe_sum = tail.kind == GemvTailKind::moe_sum;
  if (tm_rows > kGemvStackMaxRows || !tail.blocks_done || p.stack_split || p.ldy != p.n ||
      (moe_sum ? !grouped(p) || p.epilogue != Epilogue::row_scale : grouped(p) || p.epilogue != Epilogue::none))
    throw std::logic_error("gemv: a tail on a product other than the one it follows (rows, grouping, epilogue, stacking) or without a counter");
  if (tail.kind == GemvTailKind::route &&
      (tail.route.logits != p.y || tail.route.tokens != p.rows || tail.route.attrs.n_experts != p.n))
    throw std::logic_error("gemv: a route tail whose logits are not the product");
  if (moe_sum && (tail.moe.y_pairs != p.y || tail.norm.width != p.n || tail.norm.rows < 1 || tail.norm.rows > p.max_rows ||
                  !tail.norm.residual || !tail.norm.sum))
    throw std::logic_error("gemv: a moe_sum tail whose pairs' results are not the product");
}

}  // namespace

int gemv_k_splits(const MatmulProblem& p, int sm_count) {
  // The decode kernel splits K among the warps of a block instead.
  if (grouped(p) || p.epilogue == Epilogue::swiglu || kernel_rows(p) <= gemv_detail::kDecodeMaxRows) return 1;
  // Aim for about two blocks per multiprocessor; a split keeps at least 4 chunks of K.
  const int64_t blocks = row_blocks(p, false);
  const int64_t chunks = (p.k + gemv_detail::kChunk - 1) / gemv_detail::kChunk;
  int64_t splits = (2 * int64_t{sm_count} + blocks - 1) / blocks;
  splits = std::max<int64_t>(std::min<int64_t>({splits, chunks / 4, 32}), 1);
  // Every split gets ceil(chunks / splits) chunks: drop splits that would get none.
  const int64_t per_split = (chunks + splits - 1) / splits;
  return static_cast<int>((chunks + per_split - 1) / per_split);
}

size_t gemv_workspace_floats(const MatmulProblem& p, int sm_count) {
  const int splits = gemv_k_splits(p, sm_count);
  return splits > 1 ? static_cast<size_t>(splits) * static_cast<size_t>(p.rows * p.n) : 0;
}

void launch_gemv(const MatmulProblem& p, float* workspace, int sm_count, cudaStream_t stream, const GemvTail* tail) {
  const int64_t rows = grouped(p) ? p.max_rows : p.rows;
  if (rows <= 0 || p.n <= 0) return;
  if (tail && tail->kind == GemvTailKind::none) tail = nullptr;
  GemvParams params{p, false, nullptr, false, tail ? *tail : GemvTail{}};
  // Vector loads need rows that start on 16 bytes: K a multiple of 8 and aligned matrices.
  auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  const bool dual = p.epilogue == Epilogue::swiglu;
  params.vec_ok = p.k % 8 == 0 &&
                  (grouped(p) ? p.matrices_aligned : rows_start_aligned(p.w[0]) && (!dual || rows_start_aligned(p.w[1]))) &&
                  (!p.stack_split || rows_start_aligned(p.stack_w));
  params.x_vec_ok = aligned(p.x) && p.ldx % 4 == 0;
  const int splits = gemv_k_splits(p, sm_count);
  if (splits > 1) params.partial = workspace;
  const int64_t tm_rows = kernel_rows(p);
  const bool decode = tm_rows <= gemv_detail::kDecodeMaxRows;
  // Only the decode kernel knows stacked problems (see MatmulProblem): an internal error otherwise.
  if (p.stack_split && (!decode || grouped(p) || dual))
    throw std::logic_error("gemv: a stacked problem with more than kGemvStackMaxRows rows, grouped or swiglu");
  if (tail) check_tail(p, *tail, tm_rows);
  if (tail && tail->kind != GemvTailKind::moe_sum) {  // the norm tail's rows are the product's
    params.tail.norm.rows = p.rows;
    params.tail.norm.width = p.n;
  }
  const dim3 grid(static_cast<unsigned>(row_blocks(p, decode)), group_grid_rows(p), static_cast<unsigned>(splits));
  switch (p.w_dtype) {
    case FATHOM_DTYPE_F32: gemv_detail::launch_f32(params, grid, tm_rows, stream); break;
    case FATHOM_DTYPE_BF16: gemv_detail::launch_bf16(params, grid, tm_rows, stream); break;
    case FATHOM_DTYPE_F16: gemv_detail::launch_f16(params, grid, tm_rows, stream); break;
    case FATHOM_DTYPE_F8_E4M3FN: gemv_detail::launch_e4m3(params, grid, tm_rows, stream); break;
    case FATHOM_DTYPE_F8_E5M2: gemv_detail::launch_e5m2(params, grid, tm_rows, stream); break;
    default: return;
  }
  if (splits > 1) {
    const int64_t n = p.rows * p.n;
    const int threads = 256;
    const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 4096);
    FATHOM_LAUNCH(static_cast<unsigned>(blocks), threads, stream, sum_splits_kernel)(workspace, splits, n, p);
  }
}

}  // namespace fathom::gpu
