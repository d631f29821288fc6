// The gemv kernel for one or two activation rows (decode), included by gemv_impl.cuh.
//
// Why a second kernel: at one row the product is a pure stream of the weights, and what decides
// its speed is how many bytes are in flight. The staging kernel (gemv_impl.cuh) gives a warp four
// rows and walks K behind a block-wide barrier per chunk, so a 2048 x 2048 matrix keeps only
// about 500 warps busy with one load each outstanding, and needs a second kernel (split-K sum)
// to fill the multiprocessors. Here the warps of a block share the K range of a few rows
// instead: warp w takes chunks w, w + warps, ..., with no barrier until the end, and reads its
// activations straight from the L1-cached row (one or two rows of floats are 8-16 bytes per
// weight byte-pair, cheap next to the weights). The block then sums its warps' partial sums in
// a fixed order, so results are deterministic and no split-K pass is needed.
#pragma once

#include <algorithm>

#include "kernels/moe_route_select.cuh"
#include "kernels/moe_sum.cuh"
#include "kernels/norm_rope.cuh"

namespace fathom::gpu::gemv_detail {

// Activation rows the decode kernel handles in one pass; more rows go to the staging kernel.
constexpr int kDecodeMaxRows = static_cast<int>(kGemvStackMaxRows);

// Weight rows per block (gate and up count once each for the swiglu product).
template <bool kDual>
constexpr int kDecodeRowsPerBlock = kDual ? 2 : 4;

// Eight consecutive activations x[k .. k+7] of the row at `offset` (elements); zero beyond K.
FATHOM_DEVICE void load_x8(const float* x, int64_t offset, int64_t K, int64_t k, bool vec_ok, float out[kVec]) {
  if (vec_ok && k + kVec <= K) {
    const float4 a = __ldg(reinterpret_cast<const float4*>(x + offset + k));
    const float4 b = __ldg(reinterpret_cast<const float4*>(x + offset + k + 4));
    out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w;
    out[4] = b.x, out[5] = b.y, out[6] = b.z, out[7] = b.w;
  } else {
#pragma unroll
    for (int v = 0; v < kVec; ++v) out[v] = k + v < K ? x[offset + k + v] : 0.f;
  }
}

// Blocks per multiprocessor the decode kernel is compiled for: what ptxas reached unbounded
// before tails existed (tools/bench/cuda_kernel_resources.py: 77-80 registers, 64 for the
// one-row SwiGLU product). Bounded, a tail's code (run by one block) cannot raise the count
// for the whole launch, and fewer blocks would mean fewer loads in flight.
template <int TM, bool kDual>
constexpr int kDecodeMinBlocks = kDual && TM == 1 ? 4 : 3;

// The tail (GemvTail): after its outputs, each block counts itself, and the last one to finish
// does the tail's work on the product, which the other blocks wrote. A kernel instantiation per
// tail kind: the route tail's selection needs registers and shared memory that every other
// decode launch would otherwise pay for in occupancy.
template <GemvTailKind kTail>
FATHOM_DEVICE void finish_in_last_block(const GemvParams& params) {
  const GemvTail& tail = params.tail;
  __shared__ bool last;
  __threadfence();  // this thread's outputs visible to the whole device before the block counts
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(tail.blocks_done, 1u) == gridDim.x * gridDim.y * gridDim.z - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();  // every other block has counted: its outputs are visible from here on
  if constexpr (kTail == GemvTailKind::norm) {
    const float* y = params.p.y;
    for (int64_t r = 0; r < tail.norm.rows; ++r)
      normalise_row(tail.norm, r, [&](int64_t d) { return load_other_blocks(y + r * tail.norm.width + d); });
  } else if constexpr (kTail == GemvTailKind::moe_sum) {
    for (int64_t t = 0; t < tail.norm.rows; ++t)
      normalise_row(tail.norm, t, [&](int64_t d) {
        return moe_layer_output(tail.norm, tail.moe, t, d, [](const float* p) { return load_other_blocks(p); });
      });
  } else {
    static_assert(kThreads == kDispatchBlockThreads, "the route tail runs in a block of the dispatch's size");
    route_and_dispatch_in_block(tail.route, tail.dispatch);
  }
  if (threadIdx.x == 0) *tail.blocks_done = 0;  // for the next launch, or the next replay of a graph
}

// Launched with between 1 and kWarps warps per block (no more than K has chunks), a block per
// kDecodeRowsPerBlock weight rows, blockIdx.y the group; with a tail (kTail, params.tail),
// kWarps warps.
template <WFmt F, int TM, bool kDual, GemvTailKind kTail = GemvTailKind::none>
__global__ void FATHOM_LAUNCH_BOUNDS_MIN_BLOCKS(kThreads, (kDecodeMinBlocks<TM, kDual>)) gemv_decode_kernel(GemvParams params) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  constexpr int W = FATHOM_WARP_SIZE;
  constexpr int R = kDecodeRowsPerBlock<kDual>;
  constexpr int kMats = kDual ? 2 : 1;
  __shared__ float warp_sums[kWarps][kMats][R][TM];

  const MatmulProblem& p = params.p;
  const int lane = threadIdx.x % W, warp = threadIdx.x / W, warps = blockDim.x / W;
  const GroupSlice<kMats> group = group_slice<kMats>(p, blockIdx.y);
  // An expert no token chose: its weights are never read. With a tail the block must still count
  // itself: it runs no pass of the loop below and goes to the tail's count.
  if constexpr (kTail == GemvTailKind::none) {
    if (group.count == 0) return;
  }
  const int64_t r_begin = group.begin, r_count = group.count;
  const MatrixRef* mats = group.mats;
  const int64_t n0 = int64_t{blockIdx.x} * R;
  const int64_t chunks = (p.k + kChunk - 1) / kChunk;
  const float* x = static_cast<const float*>(p.x);

  for (int64_t rc = 0; rc < r_count; rc += TM) {
    const int rows_now = static_cast<int>(dmin<int64_t>(TM, r_count - rc));
    int64_t pair[TM], x_offset[TM];
#pragma unroll
    for (int m = 0; m < TM; ++m) {
      const int64_t r = r_begin + rc + m;
      pair[m] = m < rows_now ? (grouped(p) ? p.pair_ids[r] : r) : -1;
      x_offset[m] = m < rows_now ? (grouped(p) ? pair[m] / p.x_row_div : r) * p.ldx : -1;
    }
    float acc[kMats][R][TM];
#pragma unroll
    for (int i = 0; i < kMats; ++i)
#pragma unroll
      for (int rr = 0; rr < R; ++rr)
#pragma unroll
        for (int m = 0; m < TM; ++m) acc[i][rr][m] = 0.f;

    for (int64_t c = warp; c < chunks; c += warps) {
      const int64_t k = c * kChunk + int64_t{lane} * kVec;
      if (k >= p.k) continue;
      float wv[kMats][R][kVec];
      load_rows<F, R, kMats>(p, mats, n0, k, params.vec_ok && k + kVec <= p.k, wv);
#pragma unroll
      for (int m = 0; m < TM; ++m) {
        float xv[kVec];
        if (x_offset[m] >= 0) {
          load_x8(x, x_offset[m], p.k, k, params.x_vec_ok, xv);
        } else {
#pragma unroll
          for (int v = 0; v < kVec; ++v) xv[v] = 0.f;
        }
#pragma unroll
        for (int i = 0; i < kMats; ++i)
#pragma unroll
          for (int rr = 0; rr < R; ++rr)
#pragma unroll
            for (int v = 0; v < kVec; ++v) acc[i][rr][m] += wv[i][rr][v] * xv[v];
      }
    }

    // Every lane takes part in the shuffles; lane 0 keeps the warp's sums.
#pragma unroll
    for (int i = 0; i < kMats; ++i)
#pragma unroll
      for (int rr = 0; rr < R; ++rr)
#pragma unroll
        for (int m = 0; m < TM; ++m) {
          const float s = warp_sum(acc[i][rr][m]);
          if (lane == 0) warp_sums[warp][i][rr][m] = s;
        }
    __syncthreads();
    if (threadIdx.x < R * TM) {
      const int rr = threadIdx.x / TM, m = threadIdx.x % TM;
      const int64_t n = n0 + rr;
      if (m < rows_now && n < p.n) {
        float sum[kMats];
#pragma unroll
        for (int i = 0; i < kMats; ++i) {
          sum[i] = 0.f;
          for (int w = 0; w < warps; ++w) sum[i] += warp_sums[w][i][rr][m];  // fixed order: deterministic
        }
        float out = sum[0];
        if constexpr (kDual) {
          const double gate = sum[0], up = sum[kMats - 1];
          out = static_cast<float>(gate / (1.0 + exp(-gate)) * up);
        }
        if (p.epilogue == Epilogue::row_scale) out *= p.row_scale[pair[m]];
        if constexpr (kTail == GemvTailKind::norm) out += params.tail.norm.residual[pair[m] * p.n + n];
        if (p.stack_split && n >= p.stack_split) {
          p.stack_y[pair[m] * p.stack_ldy + (n - p.stack_split)] = out;
        } else {
          p.y[pair[m] * p.ldy + n] = out;
        }
      }
    }
    __syncthreads();  // warp_sums is written again by the next pass
  }
  if constexpr (kTail != GemvTailKind::none) finish_in_last_block<kTail>(params);
}

template <WFmt F, int TM, bool kDual>
void launch_decode(const GemvParams& params, dim3 grid, cudaStream_t stream) {
  // No more warps than K has chunks: a short K would leave the others idle. A tail's last block
  // has them all (the route tail's dispatch takes kThreads threads).
  const int64_t chunks = (params.p.k + kChunk - 1) / kChunk;
  const GemvTailKind tail = params.tail.kind;
  const int warps = tail != GemvTailKind::none ? kWarps : static_cast<int>(std::clamp<int64_t>(chunks, 1, kWarps));
  const int threads = warps * FATHOM_WARP_SIZE;
  if constexpr (!kDual) {  // tails follow plain products only (launch_gemv checks)
    switch (tail) {
      case GemvTailKind::norm: FATHOM_LAUNCH(grid, threads, stream, gemv_decode_kernel<F, TM, false, GemvTailKind::norm>)(params); return;
      case GemvTailKind::route: FATHOM_LAUNCH(grid, threads, stream, gemv_decode_kernel<F, TM, false, GemvTailKind::route>)(params); return;
      case GemvTailKind::moe_sum: FATHOM_LAUNCH(grid, threads, stream, gemv_decode_kernel<F, TM, false, GemvTailKind::moe_sum>)(params); return;
      case GemvTailKind::none: break;
    }
  }
  FATHOM_LAUNCH(grid, threads, stream, gemv_decode_kernel<F, TM, kDual>)(params);
}

}  // namespace fathom::gpu::gemv_detail
