// Steps 2, 4 and 5 of MLA: the per-head products with kv_b's two halves (step 1, the cache
// write, rides along with step 2; step 4, the merge of attend's splits, with step 5).
//   W_UK[h][j][c] = kv_b[h·(dn+dv) + j][c]       (j < dn)
//   W_UV[h][j][c] = kv_b[h·(dn+dv) + dn + j][c]  (j < dv)
// Both read the weights as stored (kernels/weight_load.cuh) and share them among a block's tokens.
#include "kernels/mla_common.cuh"
#include "kernels/weight_load.cuh"

namespace fathom::gpu {

namespace {

using namespace mla_detail;

// Tokens sharing one pass over W_UK / W_UV: one (a decode step of one sequence), or up to
// kBatchTokens. The kernels are instantiated for both, so that one token does not pay for the
// others' accumulators.
constexpr int kBatchTokens = 4;
// W rows whose loads a thread keeps in flight at once (fewer for f32 weights: registers).
template <WFmt F>
constexpr int kRowsInFlight = sizeof(typename WeightFormat<F>::Storage) == 4 ? 4 : 8;

// Step 2, q_abs[t][h][c] = Σ_j q[t][h·(dn+dr) + j] · W_UK[h][j][c]. A block covers
// kAbsorbCols columns c of one head: thread = kWeightVec consecutive columns (one vector load a
// row) of every kAbsorbRowGroups-th row j, so that each thread's rows are loaded together and a
// head's 64 KB of FP8 weights take one or two memory round trips, not one per row; the row
// groups' sums are then added in a fixed order (deterministic).
constexpr int kAbsorbThreads = 256;
constexpr int kAbsorbColGroups = 16;
constexpr int kAbsorbRowGroups = kAbsorbThreads / kAbsorbColGroups;
constexpr int kAbsorbCols = kAbsorbColGroups * kWeightVec;

template <WFmt F, int kTokens>
__global__ void __launch_bounds__(kAbsorbThreads) absorb_q_kernel(MlaArgs a, float* q_abs, bool vec_ok) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  constexpr int kRows = kRowsInFlight<F>;
  __shared__ float qs[kTokens][kMlaMaxNope];
  __shared__ float sums[kAbsorbRowGroups][kTokens][kAbsorbCols];
  const MlaShape& s = a.shape;
  const int h = blockIdx.y;
  const int64_t t0 = int64_t{blockIdx.z} * kTokens;
  const int tokens = static_cast<int>(dmin<int64_t>(kTokens, a.tokens - t0));
  if (blockIdx.x == 0 && h == 0) write_cache_rows(a, t0, tokens);  // step 1 (mla_common.cuh)
  if (blockIdx.x == 0 && a.prologue.kva) rotate_q_pe(a, h, t0, tokens);
  const int64_t q_row = int64_t{s.heads} * (s.nope + s.rope);
  for (int i = threadIdx.x; i < kTokens * s.nope; i += kAbsorbThreads) {
    const int tt = i / s.nope, j = i % s.nope;
    qs[tt][j] = tt < tokens ? a.q[(t0 + tt) * q_row + int64_t{h} * (s.nope + s.rope) + j] : 0.f;
  }
  __syncthreads();

  const int cg = threadIdx.x % kAbsorbColGroups, rg = threadIdx.x / kAbsorbColGroups;
  const int64_t c = int64_t{blockIdx.x} * kAbsorbCols + cg * kWeightVec;  // the thread's first column
  const int64_t row0 = int64_t{h} * (s.nope + s.v);
  float acc[kTokens][kWeightVec] = {};
  if (c < s.rank) {
    for (int j0 = rg; j0 < s.nope; j0 += kAbsorbRowGroups * kRows) {
      int64_t rows[kRows];
#pragma unroll
      for (int i = 0; i < kRows; ++i) rows[i] = j0 + i * kAbsorbRowGroups < s.nope ? row0 + j0 + i * kAbsorbRowGroups : -1;
      float w[kRows][kWeightVec];
      load_rows8<F, kRows>(a.kv_b, s.rank, rows, c, vec_ok, w);
#pragma unroll
      for (int i = 0; i < kRows; ++i) {
#pragma unroll
        for (int tt = 0; tt < kTokens; ++tt) {
          const float q = rows[i] >= 0 ? qs[tt][j0 + i * kAbsorbRowGroups] : 0.f;  // w is zero there too
#pragma unroll
          for (int v = 0; v < kWeightVec; ++v) acc[tt][v] += q * w[i][v];
        }
      }
    }
  }
#pragma unroll
  for (int tt = 0; tt < kTokens; ++tt)
#pragma unroll
    for (int v = 0; v < kWeightVec; ++v) sums[rg][tt][cg * kWeightVec + v] = acc[tt][v];
  __syncthreads();
  for (int i = threadIdx.x; i < kTokens * kAbsorbCols; i += kAbsorbThreads) {
    const int tt = i / kAbsorbCols, col = i % kAbsorbCols;
    const int64_t cc = int64_t{blockIdx.x} * kAbsorbCols + col;
    if (tt >= tokens || cc >= s.rank) continue;
    float sum = 0.f;
    for (int r = 0; r < kAbsorbRowGroups; ++r) sum += sums[r][tt][col];  // fixed order: deterministic
    q_abs[((t0 + tt) * s.heads + h) * s.rank + cc] = sum;
  }
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
//   in shared memory; then o[t][h·dv + j] = Σ_c o_lat[t][h][c] · W_UV[h][j][c], a warp per
//   kProjectRowsPerWarp rows j, each lane kWeightVec consecutive columns c at a time, the
//   warp's rows loaded together.
template <WFmt F, int kTokens>
__global__ void __launch_bounds__(kProjectThreads) project_out_kernel(MlaArgs a, const float* partial, bool vec_ok) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  // Fewer rows at once for several tokens: their accumulators take the registers.
  constexpr int kRows = kTokens > 1 ? 4 : kRowsInFlight<F>;
  static_assert(kProjectRowsPerWarp % kRows == 0);
  __shared__ float os[kTokens][kMlaMaxRow];
  __shared__ float split_weight[kTokens][kMlaMaxSplits];  // e^(m_z - M), 0 for an empty split
  __shared__ float den[kTokens];
  const MlaShape& s = a.shape;
  const int h = blockIdx.y, splits = a.splits;
  const int64_t t0 = int64_t{blockIdx.z} * kTokens;
  const int tokens = static_cast<int>(dmin<int64_t>(kTokens, a.tokens - t0));
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
  for (int i = threadIdx.x; i < kTokens * s.rank; i += kProjectThreads) {
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

  const int j_first = blockIdx.x * kProjectRowsPerBlock + warp * kProjectRowsPerWarp;
  if (j_first >= s.v) return;  // whole warps leave; no barrier follows
  for (int r0 = 0; r0 < kProjectRowsPerWarp; r0 += kRows) {
    int64_t rows[kRows];
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      const int j = j_first + r0 + i;
      rows[i] = j < s.v ? int64_t{h} * (s.nope + s.v) + s.nope + j : -1;
    }
    float acc[kTokens][kRows] = {};
    for (int64_t c = int64_t{lane} * kWeightVec; c < s.rank; c += int64_t{FATHOM_WARP_SIZE} * kWeightVec) {
      float w[kRows][kWeightVec];
      load_rows8<F, kRows>(a.kv_b, s.rank, rows, c, vec_ok, w);
#pragma unroll
      for (int tt = 0; tt < kTokens; ++tt) {
        float o[kWeightVec];
#pragma unroll
        for (int v = 0; v < kWeightVec; ++v) o[v] = c + v < s.rank ? os[tt][c + v] : 0.f;
#pragma unroll
        for (int i = 0; i < kRows; ++i)
#pragma unroll
          for (int v = 0; v < kWeightVec; ++v) acc[tt][i] += o[v] * w[i][v];
      }
    }
#pragma unroll
    for (int i = 0; i < kRows; ++i)
#pragma unroll
      for (int tt = 0; tt < kTokens; ++tt) {
        const float v = warp_sum(acc[tt][i]);
        if (lane == 0 && tt < tokens && rows[i] >= 0)
          a.out[(t0 + tt) * int64_t{s.heads} * s.v + int64_t{h} * s.v + j_first + r0 + i] = v;
      }
  }
}

}  // namespace

namespace {

// Launches kernel<F, tokens per block> for the MLA weights' format, with tokens per block 1 for a
// single token and kBatchTokens otherwise, over `col_blocks` x heads x the token groups; the
// launch gets the grid and whether the weights allow vector loads.
template <typename Launch>
void launch_per_head(const MlaArgs& args, int64_t col_blocks, Launch&& launch) {
  const int per_block = args.tokens == 1 ? 1 : kBatchTokens;
  const dim3 grid(static_cast<unsigned>(col_blocks), static_cast<unsigned>(args.shape.heads),
                  static_cast<unsigned>((args.tokens + per_block - 1) / per_block));
  const bool vec_ok = weight_rows_vectorisable(args.kv_b, args.shape.rank);
  dispatch_wfmt(args.kv_b_dtype, [&]<WFmt F>() {
    if (per_block == 1) {
      launch.template operator()<F, 1>(grid, vec_ok);
    } else {
      launch.template operator()<F, kBatchTokens>(grid, vec_ok);
    }
  });
}

}  // namespace

void launch_mla_absorb_q(const MlaArgs& args, float* q_abs, cudaStream_t stream) {
  launch_per_head(args, (args.shape.rank + kAbsorbCols - 1) / kAbsorbCols, [&]<WFmt F, int kTokens>(dim3 grid, bool vec_ok) {
    FATHOM_LAUNCH(grid, kAbsorbThreads, stream, absorb_q_kernel<F, kTokens>)(args, q_abs, vec_ok);
  });
}

void launch_mla_merge_project_out(const MlaArgs& args, const float* partial, cudaStream_t stream) {
  launch_per_head(args, (args.shape.v + kProjectRowsPerBlock - 1) / kProjectRowsPerBlock, [&]<WFmt F, int kTokens>(dim3 grid, bool vec_ok) {
    FATHOM_LAUNCH(grid, kProjectThreads, stream, project_out_kernel<F, kTokens>)(args, partial, vec_ok);
  });
}

}  // namespace fathom::gpu
