// Step 3 of MLA: attention over the latent cache, split along the positions (the merge of the
// splits, step 4, opens step 5's kernel, mla_project.cu); plus the driver of the steps.
//
// mla_attend: one block per (token, group of 8 heads, split); warp w is head 8g + w. The block
// stages kTile cache rows at a time in shared memory (converted to f32) and every warp scores
// them against its head's query, kept in registers (element e = lane + 32 i), with an online
// softmax. All heads of the group share each staged row, so the cache is read once per group.
#include <algorithm>
#include <cmath>

#include "kernels/mla_common.cuh"

namespace fathom::gpu {

namespace {

using namespace mla_detail;

constexpr int kAttendThreads = kHeadsPerBlock * FATHOM_WARP_SIZE;
constexpr int kPerLane = (kMlaMaxRow + FATHOM_WARP_SIZE - 1) / FATHOM_WARP_SIZE;
// Cache elements a thread stages per tile: all of them are loaded before any is stored, so a
// tile costs one memory round trip (a loop that stores each load's value before the next
// iteration's loads waits out several).
constexpr int kStagedPerThread = (kTile * kMlaMaxRow + kAttendThreads - 1) / kAttendThreads;

template <typename Cache>
__global__ void __launch_bounds__(kAttendThreads) attend_kernel(MlaArgs a, const float* q_abs, float* partial) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  constexpr int W = FATHOM_WARP_SIZE;
  __shared__ float tile[kTile][kMlaMaxRow];
  const MlaShape& s = a.shape;
  const int64_t t = blockIdx.x;
  const int z = blockIdx.z, splits = gridDim.z;
  const int lane = threadIdx.x % W, warp = threadIdx.x / W;
  const int h = blockIdx.y * kHeadsPerBlock + warp;
  const bool head_ok = h < s.heads;
  const int row = s.rank + s.rope;
  const int per_lane = (row + W - 1) / W;

  const bool index_ok = cache_index_ok(a, t);
  const int64_t len = index_ok ? int64_t{a.positions[t]} + 1 : 0;
  const int64_t chunk = (len + splits - 1) / splits;
  const int64_t s_begin = z * chunk, s_end = dmin<int64_t>(len, s_begin + chunk);

  float qr[kPerLane], o[kPerLane];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int e = lane + W * i;
    float v = 0.f;
    if (head_ok && i < per_lane && e < row) {
      v = e < s.rank ? q_abs[(t * s.heads + h) * s.rank + e]
                     : a.q_pe[t * a.q_pe_token_stride + int64_t{h} * a.q_pe_head_stride + (e - s.rank)];
    }
    qr[i] = v;
    o[i] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  const Cache* base = static_cast<const Cache*>(a.cache) +
                      (index_ok ? int64_t{a.slots[t]} * s.max_len * row : 0);

  for (int64_t s0 = s_begin; s0 < s_end; s0 += kTile) {
    const int rows = static_cast<int>(dmin<int64_t>(kTile, s_end - s0));
    // The tile's rows are consecutive in the cache: element idx of the tile is base[s0 * row + idx].
    const int elements = rows * row;
    float staged[kStagedPerThread];
#pragma unroll
    for (int i = 0; i < kStagedPerThread; ++i) {
      const int idx = threadIdx.x + i * kAttendThreads;
      staged[i] = idx < elements ? cache_load(base, s0 * row + idx) : 0.f;
    }
    __syncthreads();  // the previous tile is consumed
#pragma unroll
    for (int i = 0; i < kStagedPerThread; ++i) {
      const int idx = threadIdx.x + i * kAttendThreads;
      if (idx < elements) tile[idx / row][idx % row] = staged[i];
    }
    __syncthreads();
    float score[kTile];
#pragma unroll
    for (int r = 0; r < kTile; ++r) {
      float d = 0.f;
      if (r < rows) {
#pragma unroll
        for (int i = 0; i < kPerLane; ++i) {
          const int e = lane + W * i;
          if (i < per_lane && e < row) d += qr[i] * tile[r][e];
        }
      }
      d = warp_sum(d);
      score[r] = r < rows ? d * s.softmax_scale : -INFINITY;
    }
    float m_new = m;
#pragma unroll
    for (int r = 0; r < kTile; ++r) m_new = fmaxf(m_new, score[r]);
    const float alpha = expf(m - m_new);  // m = -inf on the first tile: 0
    float p[kTile], p_sum = 0.f;
#pragma unroll
    for (int r = 0; r < kTile; ++r) {
      p[r] = r < rows ? expf(score[r] - m_new) : 0.f;
      p_sum += p[r];
    }
    l = l * alpha + p_sum;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int e = lane + W * i;
      if (i < per_lane && e < s.rank) {
        float acc = o[i] * alpha;
#pragma unroll
        for (int r = 0; r < kTile; ++r) {
          if (r < rows) acc += p[r] * tile[r][e];
        }
        o[i] = acc;
      }
    }
    m = m_new;
  }

  if (!head_ok) return;
  float* out = partial + ((t * s.heads + h) * splits + z) * int64_t{s.rank + 2};
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int e = lane + W * i;
    if (i < per_lane && e < s.rank) out[e] = o[i];
  }
  if (lane == 0) {
    out[s.rank] = m;
    out[s.rank + 1] = l;
  }
}

int64_t head_groups(const MlaShape& s) { return (s.heads + kHeadsPerBlock - 1) / kHeadsPerBlock; }

}  // namespace

int mla_splits(const MlaShape& shape, int64_t tokens, int sm_count) {
  const int64_t blocks = std::max<int64_t>(tokens * head_groups(shape), 1);
  int64_t splits = (2 * int64_t{sm_count} + blocks - 1) / blocks;
  splits = std::min<int64_t>({splits, kMlaMaxSplits, (shape.max_len + kTile - 1) / kTile});
  return static_cast<int>(std::max<int64_t>(splits, 1));
}

size_t mla_workspace_floats(const MlaShape& shape, int64_t max_tokens, int sm_count) {
  size_t partial = 0;
  for (int64_t t = 1; t <= max_tokens; ++t) partial = std::max(partial, partial_floats(shape, t, mla_splits(shape, t, sm_count)));
  return q_abs_floats(shape, max_tokens) + partial;
}

size_t mla_prologue_workspace_floats(const MlaShape& shape, int64_t max_tokens) {
  return static_cast<size_t>(max_tokens) * shape.heads * shape.rope;
}

void launch_mla_attend(const MlaArgs& given, const float* q_abs, float* partial, cudaStream_t stream) {
  const MlaArgs args = with_q_pe(given);
  const dim3 grid(static_cast<unsigned>(args.tokens), static_cast<unsigned>(head_groups(args.shape)),
                  static_cast<unsigned>(args.splits));
  if (args.cache_dtype == FATHOM_DTYPE_BF16) {
    FATHOM_LAUNCH(grid, kAttendThreads, stream, attend_kernel<uint16_t>)(args, q_abs, partial);
  } else {
    FATHOM_LAUNCH(grid, kAttendThreads, stream, attend_kernel<float>)(args, q_abs, partial);
  }
}

void launch_mla_attention(const MlaArgs& given, cudaStream_t stream) {
  if (given.tokens <= 0) return;
  MlaArgs args = given;
  float* q_abs = args.workspace;
  float* partial = q_abs + q_abs_floats(args.shape, args.tokens);
  if (args.prologue.kva) {  // q's rotated rope part goes after the partial sums
    args.prologue.q_pe_out = partial + partial_floats(args.shape, args.tokens, args.splits);
    args.q_pe = args.prologue.q_pe_out;
    args.q_pe_head_stride = args.shape.rope;
    args.q_pe_token_stride = int64_t{args.shape.heads} * args.shape.rope;
  }
  args = with_q_pe(args);
  launch_mla_absorb_q(args, q_abs, stream);  // writes the cache too
  launch_mla_attend(args, q_abs, partial, stream);
  launch_mla_merge_project_out(args, partial, stream);
}

}  // namespace fathom::gpu
