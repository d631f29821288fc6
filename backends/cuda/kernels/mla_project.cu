// Steps 2, 4 and 5 of MLA: the per-head products with kv_b's two halves (step 1, the cache
// write, rides along with step 2; step 4, the merge of attend's splits, with step 5).
//   W_UK[h][j][c] = kv_b[h·(dn+dv) + j][c]       (j < dn)
//   W_UV[h][j][c] = kv_b[h·(dn+dv) + dn + j][c]  (j < dv)
// Both read the weights as stored and share them among kTokensPerBlock tokens.
#include "kernels/mla_common.cuh"

namespace fathom::gpu {

namespace {

using namespace mla_detail;

constexpr int kAbsorbThreads = 128;

// q_abs[t][h][c] = Σ_j q[t][h·(dn+dr) + j] · W_UK[h][j][c]. Thread = one c for the block's
// tokens; the weight row segment is read coalesced along c, once per block.
template <WFmt F>
__global__ void __launch_bounds__(kAbsorbThreads) absorb_q_kernel(MlaArgs a, float* q_abs) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  __shared__ float qs[kTokensPerBlock][kMlaMaxNope];
  const MlaShape& s = a.shape;
  const int h = blockIdx.y;
  const int64_t t0 = int64_t{blockIdx.z} * kTokensPerBlock;
  const int tokens = static_cast<int>(dmin<int64_t>(kTokensPerBlock, a.tokens - t0));
  if (blockIdx.x == 0 && h == 0) write_cache_rows(a, t0, tokens);  // step 1 (mla_common.cuh)
  if (blockIdx.x == 0 && a.prologue.kva) rotate_q_pe(a, h, t0, tokens);
  const int64_t q_row = int64_t{s.heads} * (s.nope + s.rope);
  for (int i = threadIdx.x; i < kTokensPerBlock * s.nope; i += kAbsorbThreads) {
    const int tt = i / s.nope, j = i % s.nope;
    qs[tt][j] = tt < tokens ? a.q[(t0 + tt) * q_row + int64_t{h} * (s.nope + s.rope) + j] : 0.f;
  }
  __syncthreads();
  const int64_t c = int64_t{blockIdx.x} * kAbsorbThreads + threadIdx.x;
  if (c >= s.rank) return;
  float acc[kTokensPerBlock] = {};
  const int64_t row0 = int64_t{h} * (s.nope + s.v);
  for (int j = 0; j < s.nope; ++j) {
    const float w = weight_at<F>(a.kv_b, s.rank, row0 + j, c);
#pragma unroll
    for (int tt = 0; tt < kTokensPerBlock; ++tt) acc[tt] += qs[tt][j] * w;
  }
  for (int tt = 0; tt < tokens; ++tt) q_abs[((t0 + tt) * s.heads + h) * s.rank + c] = acc[tt];
}

constexpr int kProjectThreads = 256;
constexpr int kProjectWarps = kProjectThreads / FATHOM_WARP_SIZE;
// W_UV rows per warp. Every block merges its tokens' splits for its head first, so a block
// covers many rows (64 with CUDA's warps) to keep that merge from being repeated much.
constexpr int kProjectRowsPerWarp = 8;
constexpr int kProjectRowsPerBlock = kProjectWarps * kProjectRowsPerWarp;

// Step 4 then step 5, for head h and the block's tokens:
//   o_lat[t][h][c] = Σ_z e^(m_z - M) o_z[c] / Σ_z e^(m_z - M) l_z   (zero for a token that
//   attends to nothing: its cache index was out of range, reported by the cache write), staged
//   in shared memory; then o[t][h·dv + j] = Σ_c o_lat[t][h][c] · W_UV[h][j][c], a warp per row j
//   with the lanes along c.
template <WFmt F>
__global__ void __launch_bounds__(kProjectThreads) project_out_kernel(MlaArgs a, const float* partial) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  __shared__ float os[kTokensPerBlock][kMlaMaxRow];
  __shared__ float split_weight[kTokensPerBlock][kMlaMaxSplits];  // e^(m_z - M), 0 for an empty split
  __shared__ float den[kTokensPerBlock];
  const MlaShape& s = a.shape;
  const int h = blockIdx.y, splits = a.splits;
  const int64_t t0 = int64_t{blockIdx.z} * kTokensPerBlock;
  const int tokens = static_cast<int>(dmin<int64_t>(kTokensPerBlock, a.tokens - t0));
  const int lane = threadIdx.x % FATHOM_WARP_SIZE, warp = threadIdx.x / FATHOM_WARP_SIZE;
  const int64_t stride = s.rank + 2;  // one split's [o (C) ; m ; l]
  auto splits_of = [&](int tt) { return partial + ((t0 + tt) * s.heads + h) * splits * stride; };

  for (int tt = warp; tt < tokens; tt += kProjectWarps) {  // a warp per token: its splits' weights
    const float* pb = splits_of(tt);
    float big = -INFINITY;
    for (int z = lane; z < splits; z += FATHOM_WARP_SIZE) big = fmaxf(big, pb[z * stride + s.rank]);
    big = warp_max(big);
    float sum = 0.f;
    for (int z = lane; z < splits; z += FATHOM_WARP_SIZE) {
      const float mz = pb[z * stride + s.rank];
      const float w = mz > -INFINITY ? expf(mz - big) : 0.f;
      split_weight[tt][z] = w;
      sum += w * pb[z * stride + s.rank + 1];
    }
    sum = warp_sum(sum);
    if (lane == 0) den[tt] = sum;
  }
  __syncthreads();
  for (int i = threadIdx.x; i < kTokensPerBlock * s.rank; i += kProjectThreads) {
    const int tt = i / s.rank, c = i % s.rank;
    float merged = 0.f;
    if (tt < tokens && den[tt] > 0.f) {
      const float* pb = splits_of(tt);
      float num = 0.f;
      for (int z = 0; z < splits; ++z) num += split_weight[tt][z] * pb[z * stride + c];
      merged = num / den[tt];
    }
    os[tt][c] = merged;
  }
  __syncthreads();

  for (int r = 0; r < kProjectRowsPerWarp; ++r) {
    const int j = blockIdx.x * kProjectRowsPerBlock + warp * kProjectRowsPerWarp + r;
    if (j >= s.v) return;  // whole warps leave; no barrier follows
    const int64_t row = int64_t{h} * (s.nope + s.v) + s.nope + j;
    float acc[kTokensPerBlock] = {};
    for (int c = lane; c < s.rank; c += FATHOM_WARP_SIZE) {
      const float w = weight_at<F>(a.kv_b, s.rank, row, c);
#pragma unroll
      for (int tt = 0; tt < kTokensPerBlock; ++tt) acc[tt] += os[tt][c] * w;
    }
#pragma unroll
    for (int tt = 0; tt < kTokensPerBlock; ++tt) {
      const float v = warp_sum(acc[tt]);
      if (lane == 0 && tt < tokens) a.out[(t0 + tt) * int64_t{s.heads} * s.v + int64_t{h} * s.v + j] = v;
    }
  }
}

}  // namespace

void launch_mla_absorb_q(const MlaArgs& args, float* q_abs, cudaStream_t stream) {
  const MlaShape& s = args.shape;
  const dim3 grid(static_cast<unsigned>((s.rank + kAbsorbThreads - 1) / kAbsorbThreads), static_cast<unsigned>(s.heads),
                  static_cast<unsigned>((args.tokens + kTokensPerBlock - 1) / kTokensPerBlock));
  dispatch_wfmt(args.kv_b_dtype, [&]<WFmt F>() { FATHOM_LAUNCH(grid, kAbsorbThreads, stream, absorb_q_kernel<F>)(args, q_abs); });
}

void launch_mla_merge_project_out(const MlaArgs& args, const float* partial, cudaStream_t stream) {
  const MlaShape& s = args.shape;
  const dim3 grid(static_cast<unsigned>((s.v + kProjectRowsPerBlock - 1) / kProjectRowsPerBlock), static_cast<unsigned>(s.heads),
                  static_cast<unsigned>((args.tokens + kTokensPerBlock - 1) / kTokensPerBlock));
  dispatch_wfmt(args.kv_b_dtype,
                [&]<WFmt F>() { FATHOM_LAUNCH(grid, kProjectThreads, stream, project_out_kernel<F>)(args, partial); });
}

}  // namespace fathom::gpu
