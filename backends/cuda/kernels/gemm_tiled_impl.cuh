// The tiled kernel template, instantiated per weight format in gemm_tiled_<format>.cu.
//
// A block of 256 threads computes a 64 x 64 tile of y (64 rows of x, 64 weight rows), walking K
// in steps of 16: both operands are staged in shared memory k-major (x transposed on the way),
// and thread (tx, ty) = (t % 16, t / 16) accumulates rows ty + 16i and columns tx + 16j
// (i, j < 4), so a warp reads 2 broadcast x values and 16 consecutive weight values per step:
// no bank conflicts on reads. Rows are padded to 65 floats to spread the transposing writes.
#pragma once

#include "kernels/common.cuh"
#include "kernels/gemm_tiled.cuh"

namespace fathom::gpu::tiled_detail {

constexpr int kThreads = 256;
constexpr int kBM = 64, kBN = 64, kBK = 16;
constexpr int kPad = kBM + 1;

template <typename TX>
FATHOM_DEVICE float load_x(const void* x, int64_t i) {
  if constexpr (sizeof(TX) == 2) {
    return bf16_to_f32(static_cast<const uint16_t*>(x)[i]);
  } else {
    return static_cast<const float*>(x)[i];
  }
}

// W[n][k .. k+3] dequantised (zero outside the matrix). The four share one 128-block: k % 4 == 0.
template <WFmt F>
FATHOM_DEVICE void load4(const MatrixRef& w, int64_t N, int64_t K, int64_t n, int64_t k, float out[4]) {
  using Fmt = WeightFormat<F>;
  const auto* row = static_cast<const typename Fmt::Storage*>(w.data) + row_offset(w, K, n);
  const bool inside = n < N && k < K;
  const float s = inside && w.scales ? block_scale(w, n, k) : 1.f;
#pragma unroll
  for (int v = 0; v < 4; ++v) out[v] = inside && k + v < K ? Fmt::decode(row[k + v]) * s : 0.f;
}

template <typename TX, WFmt F, bool kDual>
__global__ void __launch_bounds__(kThreads) gemm_tiled_kernel(const MatmulProblem p) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  constexpr int kMats = kDual ? 2 : 1;
  __shared__ float xs[kBK][kPad];
  __shared__ float ws[kMats][kBK][kPad];
  __shared__ int64_t xrow[kBM], yrow[kBM];

  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const GroupSlice<kMats> group = group_slice<kMats>(p, blockIdx.y);
  const int64_t r_begin = group.begin, r_count = group.count;
  const MatrixRef* mats = group.mats;
  const int64_t n0 = int64_t{blockIdx.x} * kBN;
  // Staging assignment: thread loads 4 consecutive k of one row of each operand.
  const int ld_row = tid / 4, ld_k = (tid % 4) * 4;

  for (int64_t rt = int64_t{blockIdx.z} * kBM; rt < r_count; rt += int64_t{gridDim.z} * kBM) {
    const int rows_now = static_cast<int>(dmin<int64_t>(kBM, r_count - rt));
    __syncthreads();  // the previous tile's xrow/yrow are no longer read
    if (tid < kBM) {
      if (tid < rows_now) {
        const int64_t r = r_begin + rt + tid;
        const int64_t pair = grouped(p) ? p.pair_ids[r] : r;
        xrow[tid] = grouped(p) ? pair / p.x_row_div : r;
        yrow[tid] = pair;
      } else {
        xrow[tid] = -1;
        yrow[tid] = -1;
      }
    }
    float acc[kMats][4][4];
#pragma unroll
    for (int m = 0; m < kMats; ++m)
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[m][i][j] = 0.f;

    for (int64_t k0 = 0; k0 < p.k; k0 += kBK) {
      __syncthreads();  // previous step consumed; xrow visible
      {
        const int64_t xr = ld_row < rows_now ? xrow[ld_row] : -1;
#pragma unroll
        for (int v = 0; v < 4; ++v) {
          const int64_t k = k0 + ld_k + v;
          xs[ld_k + v][ld_row] = (xr >= 0 && k < p.k) ? load_x<TX>(p.x, xr * p.ldx + k) : 0.f;
        }
        const int64_t n = n0 + ld_row, k = k0 + ld_k;
#pragma unroll
        for (int m = 0; m < kMats; ++m) {
          float w4[4];
          load4<F>(mats[m], p.n, p.k, n, k, w4);
#pragma unroll
          for (int v = 0; v < 4; ++v) ws[m][ld_k + v][ld_row] = w4[v];
        }
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        float a[4], b[kMats][4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = xs[kk][ty + 16 * i];
#pragma unroll
        for (int m = 0; m < kMats; ++m)
#pragma unroll
          for (int j = 0; j < 4; ++j) b[m][j] = ws[m][kk][tx + 16 * j];
#pragma unroll
        for (int m = 0; m < kMats; ++m)
#pragma unroll
          for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[m][i][j] += a[i] * b[m][j];
      }
    }

#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int row = ty + 16 * i;
      if (row >= rows_now) continue;
      const int64_t out_row = yrow[row];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t n = n0 + tx + 16 * j;
        if (n >= p.n) continue;
        float out = acc[0][i][j];
        if constexpr (kDual) {
          const double gate = acc[0][i][j], up = acc[kMats - 1][i][j];
          out = static_cast<float>(gate / (1.0 + exp(-gate)) * up);
        } else {
          if (p.epilogue == Epilogue::row_scale) out *= p.row_scale[out_row];
        }
        p.y[out_row * p.ldy + n] = out;
      }
    }
  }
}

template <typename TX, WFmt F>
void launch_format(const MatmulProblem& p, dim3 grid, cudaStream_t stream) {
  if (p.epilogue == Epilogue::swiglu) {
    FATHOM_LAUNCH(grid, kThreads, stream, gemm_tiled_kernel<TX, F, true>)(p);
  } else {
    FATHOM_LAUNCH(grid, kThreads, stream, gemm_tiled_kernel<TX, F, false>)(p);
  }
}

void launch_f32(const MatmulProblem&, dim3, cudaStream_t);
void launch_bf16(const MatmulProblem&, dim3, cudaStream_t);
void launch_f16(const MatmulProblem&, dim3, cudaStream_t);
void launch_e4m3(const MatmulProblem&, dim3, cudaStream_t);
void launch_e5m2(const MatmulProblem&, dim3, cudaStream_t);
void launch_bf16_x_bf16(const MatmulProblem&, dim3, cudaStream_t);

}  // namespace fathom::gpu::tiled_detail
