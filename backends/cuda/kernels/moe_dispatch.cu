#include "kernels/common.cuh"
#include "kernels/moe_dispatch.cuh"
#include "kernels/moe_dispatch_block.cuh"

namespace fathom::gpu {

namespace {

constexpr int kThreads = 256;

__global__ void count_kernel(MoeDispatchArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  const int64_t p = int64_t{blockIdx.x} * kThreads + threadIdx.x;
  if (p >= a.tokens * a.top_k) return;
  const int32_t e = a.experts[p];
  if (e < 0 || e >= a.n_experts) {
    report_error(a.error, kErrExpertId);
    a.slot_in_group[p] = -1;
    return;
  }
  a.slot_in_group[p] = atomicAdd(&a.counts[e], 1);
}

// One thread: E is at most a few hundred.
__global__ void offsets_kernel(MoeDispatchArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  int32_t sum = 0, active = 0;
  for (int32_t e = 0; e < a.n_experts; ++e) {
    a.offsets[e] = sum;
    sum += a.counts[e];
    if (a.active_groups && a.counts[e] > 0) a.active_groups[active++] = e;
  }
  if (!a.active_groups) return;
  for (int32_t i = active, n = moe_active_groups_max(a.tokens, a.top_k, a.n_experts, 0); i < n; ++i) a.active_groups[i] = -1;
}

__global__ void scatter_kernel(MoeDispatchArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  const int64_t p = int64_t{blockIdx.x} * kThreads + threadIdx.x;
  if (p >= a.tokens * a.top_k) return;
  const int32_t slot = a.slot_in_group[p];
  if (slot < 0) return;
  a.pair_ids[a.offsets[a.experts[p]] + slot] = static_cast<int32_t>(p);
}

// The three steps above in one block, for a decode step's few pairs: one launch instead of
// three (and no memset of the counts). The route-and-dispatch kernel (moe_route.cu) runs the
// same block after its selection.
__global__ void dispatch_one_block_kernel(MoeDispatchArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  dispatch_in_block(a);
}

__global__ void combine_kernel(MoeCombineArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  const int64_t n = a.tokens * a.width;
  for (int64_t i = int64_t{blockIdx.x} * kThreads + threadIdx.x; i < n; i += int64_t{gridDim.x} * kThreads) {
    const int64_t t = i / a.width, d = i - t * a.width;
    float s = 0.f;
    for (int k = 0; k < a.top_k; ++k) {
      const int64_t p = t * a.top_k + k;
      const int32_t e = a.experts[p];
      if (e >= 0 && e < a.n_experts) s += a.y_pairs[p * a.width + d];
    }
    a.y[i] = s;
  }
}

}  // namespace

bool moe_dispatch_in_one_block(int64_t pairs, int32_t n_experts) {
  return pairs <= kOneBlockMaxPairs && n_experts <= kOneBlockMaxExperts;
}

void launch_moe_dispatch(const MoeDispatchArgs& args, cudaStream_t stream) {
  const int64_t pairs = args.tokens * args.top_k;
  if (pairs <= 0) return;
  if (moe_dispatch_in_one_block(pairs, args.n_experts)) {
    FATHOM_LAUNCH(1, kDispatchBlockThreads, stream, dispatch_one_block_kernel)(args);
    return;
  }
  const unsigned blocks = static_cast<unsigned>((pairs + kThreads - 1) / kThreads);
  FATHOM_LAUNCH(blocks, kThreads, stream, count_kernel)(args);
  FATHOM_LAUNCH(1, 1, stream, offsets_kernel)(args);
  FATHOM_LAUNCH(blocks, kThreads, stream, scatter_kernel)(args);
}

void launch_moe_combine(const MoeCombineArgs& args, cudaStream_t stream) {
  const int64_t n = args.tokens * args.width;
  if (n <= 0) return;
  int64_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > 65535 * 4) blocks = 65535 * 4;
  FATHOM_LAUNCH(static_cast<unsigned>(blocks), kThreads, stream, combine_kernel)(args);
}

}  // namespace fathom::gpu
