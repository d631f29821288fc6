// The grouping of a decode step's few (token, slot) pairs by expert in one block of
// kDispatchBlockThreads threads (device code): the count, offsets and scatter steps of
// moe_dispatch.cuh, with the counts in shared memory, so that no memset is needed. Run by the
// single-block dispatch kernel, and by the route-and-dispatch kernel after its selection.
#pragma once

#include "kernels/common.cuh"
#include "kernels/moe_dispatch.cuh"

namespace fathom::gpu {

constexpr int kDispatchBlockThreads = 256;

// Exclusive prefix sum over the block of each thread's `own` (Hillis-Steele, log2 of the
// threads steps, in `run_sums`, which is free again on return); `total` receives the sum of all.
FATHOM_DEVICE int32_t block_exclusive_scan(int32_t own, int32_t* run_sums, int32_t& total) {
  constexpr int kThreads = kDispatchBlockThreads;
  const int tid = threadIdx.x;
  run_sums[tid] = own;
  __syncthreads();
  for (int d = 1; d < kThreads; d *= 2) {
    const int32_t v = tid >= d ? run_sums[tid - d] : 0;
    __syncthreads();
    run_sums[tid] += v;
    __syncthreads();
  }
  const int32_t before = run_sums[tid] - own;
  total = run_sums[kThreads - 1];
  __syncthreads();
  return before;
}

// Every thread of the block (blockDim.x == kDispatchBlockThreads) must call it, with
// n_experts + shared_groups <= kOneBlockMaxExperts.
FATHOM_DEVICE void dispatch_in_block(const MoeDispatchArgs& a) {
  constexpr int kThreads = kDispatchBlockThreads;
  __shared__ int32_t counts[kOneBlockMaxExperts], offsets[kOneBlockMaxExperts];
  __shared__ int32_t run_sums[kThreads];
  const int tid = threadIdx.x;
  const int64_t pairs = a.tokens * a.top_k;
  const int groups = a.n_experts + a.shared_groups;
  const int32_t stride = a.top_k + a.shared_groups;  // pairs per token
  for (int e = tid; e < groups; e += kThreads) counts[e] = e < a.n_experts ? 0 : static_cast<int32_t>(a.tokens);
  __syncthreads();
  for (int64_t p = tid; p < pairs; p += kThreads) {
    const int32_t e = a.experts[p];
    if (e < 0 || e >= a.n_experts) {
      report_error(a.error, kErrExpertId);
      a.slot_in_group[p] = -1;
      continue;
    }
    a.slot_in_group[p] = atomicAdd(&counts[e], 1);
  }
  __syncthreads();
  // Exclusive prefix sum of the counts: each thread sums a contiguous run of experts, the run
  // sums are scanned, then each run is filled in.
  const int per = (groups + kThreads - 1) / kThreads;
  const int e0 = tid * per, e1 = e0 + per < groups ? e0 + per : groups;
  int32_t own = 0, total = 0;
  for (int e = e0; e < e1; ++e) own += counts[e];
  int32_t sum = block_exclusive_scan(own, run_sums, total);
  for (int e = e0; e < e1; ++e) {
    offsets[e] = sum;
    a.offsets[e] = sum;
    a.counts[e] = counts[e];
    sum += counts[e];
  }
  // The same for the groups that have pairs: their places in the list, in group order.
  if (a.active_groups) {
    int32_t own_active = 0;
    for (int e = e0; e < e1; ++e) own_active += counts[e] > 0;
    int32_t place = block_exclusive_scan(own_active, run_sums, total);
    for (int e = e0; e < e1; ++e) {
      if (counts[e] > 0) a.active_groups[place++] = e;
    }
    const int32_t n = moe_active_groups_max(a.tokens, a.top_k, a.n_experts, a.shared_groups);
    for (int32_t i = total + tid; i < n; i += kThreads) a.active_groups[i] = -1;
  }
  __syncthreads();
  for (int64_t p = tid; p < pairs; p += kThreads) {
    const int32_t slot = a.slot_in_group[p];  // written by this thread above
    const int64_t t = p / a.top_k, pair = t * stride + (p - t * a.top_k);
    if (slot >= 0) a.pair_ids[offsets[a.experts[p]] + slot] = static_cast<int32_t>(pair);
    if (a.shared_groups) a.pair_weights[pair] = a.route_weights[p];
  }
  // Shared group s holds every token in order: row t is the token's pair t * stride + K + s.
  for (int64_t i = tid; i < a.tokens * a.shared_groups; i += kThreads) {
    const int64_t s = i / a.tokens, t = i - s * a.tokens, pair = t * stride + a.top_k + s;
    a.pair_ids[offsets[a.n_experts + s] + t] = static_cast<int32_t>(pair);
    a.pair_weights[pair] = 1.f;
  }
}

}  // namespace fathom::gpu
