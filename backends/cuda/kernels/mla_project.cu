// Steps 2 and 5 of MLA: the per-head products with kv_b's two halves (step 1, the cache write,
// rides along with step 2).
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

// o[t][h·dv + j] = Σ_c o_lat[t][h][c] · W_UV[h][j][c]. Warp = one j; lanes run along c.
template <WFmt F>
__global__ void __launch_bounds__(kProjectThreads) project_out_kernel(MlaArgs a, const float* o_lat) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  __shared__ float os[kTokensPerBlock][kMlaMaxRow];
  const MlaShape& s = a.shape;
  const int h = blockIdx.y;
  const int64_t t0 = int64_t{blockIdx.z} * kTokensPerBlock;
  const int tokens = static_cast<int>(dmin<int64_t>(kTokensPerBlock, a.tokens - t0));
  for (int i = threadIdx.x; i < kTokensPerBlock * s.rank; i += kProjectThreads) {
    const int tt = i / s.rank, c = i % s.rank;
    os[tt][c] = tt < tokens ? o_lat[((t0 + tt) * s.heads + h) * s.rank + c] : 0.f;
  }
  __syncthreads();
  const int lane = threadIdx.x % FATHOM_WARP_SIZE, warp = threadIdx.x / FATHOM_WARP_SIZE;
  const int j = blockIdx.x * kProjectWarps + warp;
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

}  // namespace

void launch_mla_absorb_q(const MlaArgs& args, float* q_abs, cudaStream_t stream) {
  const MlaShape& s = args.shape;
  const dim3 grid(static_cast<unsigned>((s.rank + kAbsorbThreads - 1) / kAbsorbThreads), static_cast<unsigned>(s.heads),
                  static_cast<unsigned>((args.tokens + kTokensPerBlock - 1) / kTokensPerBlock));
  dispatch_wfmt(args.kv_b_dtype, [&]<WFmt F>() { FATHOM_LAUNCH(grid, kAbsorbThreads, stream, absorb_q_kernel<F>)(args, q_abs); });
}

void launch_mla_project_out(const MlaArgs& args, const float* o_lat, cudaStream_t stream) {
  const MlaShape& s = args.shape;
  const dim3 grid(static_cast<unsigned>((s.v + kProjectWarps - 1) / kProjectWarps), static_cast<unsigned>(s.heads),
                  static_cast<unsigned>((args.tokens + kTokensPerBlock - 1) / kTokensPerBlock));
  dispatch_wfmt(args.kv_b_dtype,
                [&]<WFmt F>() { FATHOM_LAUNCH(grid, kProjectThreads, stream, project_out_kernel<F>)(args, o_lat); });
}

}  // namespace fathom::gpu
