// The gemv kernel templates, instantiated per weight format in gemv_<format>.cu (one translation
// unit each, so the builds of the formats run in parallel): the staging kernel below for three
// to kGemvMaxRows activation rows, and the decode kernel (gemv_decode_impl.cuh) for one or two.
//
// Layout of the staging kernel's work: a block of kThreads threads owns kRowsPerWarp weight rows per warp and
// walks K in chunks of kChunk = warp size x 8 elements. Each lane loads 8 consecutive weights
// of a row with one vector load (8, 16 or 32 bytes), so a warp reads a contiguous stretch of the
// row. The activations of the chunk (up to TM rows) are staged in shared memory once per block,
// transposed so that lane l reads the 8 values matching its weights without bank conflicts:
// element (m, l*8 + v) sits at xs[(m*8 + v) * (warp+1) + l].
#pragma once

#include "kernels/common.cuh"
#include "kernels/gemv.cuh"
#include "kernels/weight_load.cuh"

namespace fathom::gpu::gemv_detail {

constexpr int kThreads = 256;
constexpr int kVec = kWeightVec;
constexpr int kChunk = FATHOM_WARP_SIZE * kVec;
constexpr int kWarps = kThreads / FATHOM_WARP_SIZE;

// Weight rows per warp: keeps the accumulators at 2*2*TM (gate and up) or 4*TM registers.
template <bool kDual>
constexpr int kRowsPerWarp = kDual ? 2 : 4;
template <bool kDual>
constexpr int kRowsPerBlock = kWarps * kRowsPerWarp<kDual>;

struct GemvParams {
  MatmulProblem p;
  bool vec_ok;         // K % 8 == 0 and every weight matrix starts on 16 bytes
  float* partial;      // split-K: partial[z][rows][n]; null when not split
  bool x_vec_ok;       // x starts on 16 bytes and its row stride is a multiple of 4 floats
  GemvTail tail;       // what the decode kernel's last block does after the product
};

// The matrix that row n of the product reads for its matrix `mat` (the stacked problem's second
// matrix from stack_split on), and the row in it (-1 past the product's rows). A copy: a
// reference to either would put the caller's matrices in local memory.
FATHOM_DEVICE MatrixRef matrix_of_row(const MatmulProblem& p, const MatrixRef& mat, int64_t n, int64_t& row) {
  const bool stacked = p.stack_split && n >= p.stack_split;
  row = n >= p.n ? -1 : stacked ? n - p.stack_split : n;
  return stacked ? p.stack_w : mat;
}

// Eight weights at column k of rows n0 .. n0 + R - 1 of each matrix (see matrix_of_row),
// dequantised. With `vector` (vector loads allowed, the eight inside K) every row's load is
// issued before the first is decoded (see weight_load.cuh).
template <WFmt F, int R, int kMats>
FATHOM_DEVICE void load_rows(const MatmulProblem& p, const MatrixRef* mats, int64_t n0, int64_t k, bool vector,
                             float wv[kMats][R][kVec]) {
  if (!vector) {
#pragma unroll
    for (int i = 0; i < kMats; ++i)
#pragma unroll
      for (int rr = 0; rr < R; ++rr) {
        int64_t row;
        const MatrixRef m = matrix_of_row(p, mats[i], n0 + rr, row);
        load8_elementwise<F>(m, p.k, row, k, wv[i][rr]);
      }
    return;
  }
  Raw8<F> raw[kMats][R];
  float scale[kMats][R];
#pragma unroll
  for (int i = 0; i < kMats; ++i)
#pragma unroll
    for (int rr = 0; rr < R; ++rr) {
      int64_t row;
      const MatrixRef m = matrix_of_row(p, mats[i], n0 + rr, row);
      issue_row8<F>(m, p.k, row, k, raw[i][rr], scale[i][rr]);
    }
#pragma unroll
  for (int i = 0; i < kMats; ++i)
#pragma unroll
    for (int rr = 0; rr < R; ++rr) finish_row8<F>(raw[i][rr], scale[i][rr], wv[i][rr]);
}

template <WFmt F, int TM, bool kDual>
__global__ void __launch_bounds__(kThreads) gemv_kernel(GemvParams params) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  constexpr int W = FATHOM_WARP_SIZE;
  constexpr int RPW = kRowsPerWarp<kDual>;
  constexpr int kMats = kDual ? 2 : 1;
  __shared__ float xs[TM * kVec * (W + 1)];
  __shared__ int64_t xrow[TM], yrow[TM];

  const MatmulProblem& p = params.p;
  const int lane = threadIdx.x % W, warp = threadIdx.x / W;
  const GroupSlice<kMats> group = group_slice<kMats>(p, blockIdx.y);
  if (group.count == 0) return;  // an expert no token chose: its weights are never read
  const int64_t r_begin = group.begin, r_count = group.count;
  const MatrixRef* mats = group.mats;
  const int64_t n0 = (int64_t{blockIdx.x} * kWarps + warp) * RPW;
  const int64_t chunks = (p.k + kChunk - 1) / kChunk;
  const int64_t chunks_per_split = (chunks + gridDim.z - 1) / gridDim.z;
  const int64_t k_begin = blockIdx.z * chunks_per_split * kChunk;
  const int64_t k_end = dmin<int64_t>(p.k, k_begin + chunks_per_split * kChunk);

  for (int64_t rc = 0; rc < r_count; rc += TM) {
    const int rows_now = static_cast<int>(dmin<int64_t>(TM, r_count - rc));
    __syncthreads();  // xrow/yrow of the previous pass are no longer read
    if (threadIdx.x < TM) {
      const int m = threadIdx.x;
      if (m < rows_now) {
        const int64_t r = r_begin + rc + m;
        const int64_t pair = grouped(p) ? p.pair_ids[r] : r;
        xrow[m] = grouped(p) ? pair / p.x_row_div : r;
        yrow[m] = pair;
      } else {
        xrow[m] = -1;
        yrow[m] = -1;
      }
    }
    float acc[kMats][RPW][TM];
#pragma unroll
    for (int i = 0; i < kMats; ++i)
#pragma unroll
      for (int rr = 0; rr < RPW; ++rr)
#pragma unroll
        for (int m = 0; m < TM; ++m) acc[i][rr][m] = 0.f;

    for (int64_t kc = k_begin; kc < k_end; kc += kChunk) {
      __syncthreads();  // the previous chunk is consumed (and xrow is visible)
      for (int idx = threadIdx.x; idx < TM * kChunk; idx += kThreads) {
        const int m = idx / kChunk, kl = idx % kChunk;
        const int64_t k = kc + kl;
        float v = 0.f;
        if (m < rows_now && k < k_end) v = static_cast<const float*>(p.x)[xrow[m] * p.ldx + k];
        xs[(m * kVec + kl % kVec) * (W + 1) + kl / kVec] = v;
      }
      __syncthreads();
      const int64_t k = kc + int64_t{lane} * kVec;
      if (k >= k_end) continue;
      float wv[kMats][RPW][kVec];
      load_rows<F, RPW, kMats>(p, mats, n0, k, params.vec_ok && k + kVec <= p.k, wv);
#pragma unroll
      for (int v = 0; v < kVec; ++v) {
        float xv[TM];
#pragma unroll
        for (int m = 0; m < TM; ++m) xv[m] = xs[(m * kVec + v) * (W + 1) + lane];
#pragma unroll
        for (int i = 0; i < kMats; ++i)
#pragma unroll
          for (int rr = 0; rr < RPW; ++rr)
#pragma unroll
            for (int m = 0; m < TM; ++m) acc[i][rr][m] += wv[i][rr][v] * xv[m];
      }
    }

    __syncthreads();  // yrow is read below; the K loop may be empty for an idle split
    // Reduce over the lanes and write: lane m % W writes row m's value.
#pragma unroll
    for (int rr = 0; rr < RPW; ++rr) {
      const int64_t n = n0 + rr;
#pragma unroll
      for (int m = 0; m < TM; ++m) {
        const float a0 = warp_sum(acc[0][rr][m]);
        float out = a0;
        if constexpr (kDual) {
          const double gate = a0, up = warp_sum(acc[kMats - 1][rr][m]);
          out = static_cast<float>(gate / (1.0 + exp(-gate)) * up);
        }
        if (lane == m % W && m < rows_now && n < p.n) {
          if (params.partial) {
            params.partial[(int64_t{blockIdx.z} * p.rows + rc + m) * p.n + n] = out;
          } else {
            if (p.epilogue == Epilogue::row_scale) out *= p.row_scale[yrow[m]];
            p.y[yrow[m] * p.ldy + n] = out;
          }
        }
      }
    }
  }
}

}  // namespace fathom::gpu::gemv_detail

#include "kernels/gemv_decode_impl.cuh"

namespace fathom::gpu::gemv_detail {

template <WFmt F, int TM, bool kDual>
void launch_one(const GemvParams& params, dim3 grid, cudaStream_t stream) {
  if constexpr (TM <= kDecodeMaxRows) {
    launch_decode<F, TM, kDual>(params, grid, stream);
  } else {
    FATHOM_LAUNCH(grid, kThreads, stream, gemv_kernel<F, TM, kDual>)(params);
  }
}

// Picks TM for the problem's rows (1, 2, 4, 8 or 16) and launches: up to kDecodeMaxRows rows the
// decode kernel, whose grid has a block per kDecodeRowsPerBlock rows (see gemv.cu).
template <WFmt F>
void launch_format(const GemvParams& params, dim3 grid, int64_t rows, cudaStream_t stream) {
  const bool dual = params.p.epilogue == Epilogue::swiglu;
  auto go = [&]<int TM>() {
    if (dual) {
      launch_one<F, TM, true>(params, grid, stream);
    } else {
      launch_one<F, TM, false>(params, grid, stream);
    }
  };
  if (rows <= 1) {
    go.template operator()<1>();
  } else if (rows <= 2) {
    go.template operator()<2>();
  } else if (rows <= 4) {
    go.template operator()<4>();
  } else if (rows <= 8) {
    go.template operator()<8>();
  } else {
    go.template operator()<16>();
  }
}

}  // namespace fathom::gpu::gemv_detail

// Declares (extern template-like) the per-format entry points defined in gemv_<format>.cu.
namespace fathom::gpu::gemv_detail {
void launch_f32(const GemvParams&, dim3, int64_t, cudaStream_t);
void launch_bf16(const GemvParams&, dim3, int64_t, cudaStream_t);
void launch_f16(const GemvParams&, dim3, int64_t, cudaStream_t);
void launch_e4m3(const GemvParams&, dim3, int64_t, cudaStream_t);
void launch_e5m2(const GemvParams&, dim3, int64_t, cudaStream_t);
}  // namespace fathom::gpu::gemv_detail
