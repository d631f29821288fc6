// Step 1 of MLA: every token's [latent ; k_pe] goes into cache[slot][position] before any token
// attends (so tokens of one sequence in one batch see each other causally).
#include "kernels/mla_common.cuh"

namespace fathom::gpu {

namespace {

using namespace mla_detail;

template <typename Cache>
__global__ void write_cache_kernel(MlaArgs a) {
  const int64_t t = blockIdx.x;
  if (!cache_index_ok(a, t)) {
    if (threadIdx.x == 0) report_error(a.error, kErrCacheIndex);
    return;
  }
  const int64_t row = a.shape.rank + a.shape.rope;
  Cache* dst = static_cast<Cache*>(a.cache) + (int64_t{a.slots[t]} * a.shape.max_len + a.positions[t]) * row;
  for (int64_t i = threadIdx.x; i < row; i += blockDim.x) {
    const float v = i < a.shape.rank ? a.latent[t * a.shape.rank + i] : a.k_pe[t * a.shape.rope + (i - a.shape.rank)];
    if constexpr (sizeof(Cache) == 2) {
      dst[i] = f32_to_bf16(v);
    } else {
      dst[i] = v;
    }
  }
}

}  // namespace

void launch_mla_write_cache(const MlaArgs& args, cudaStream_t stream) {
  if (args.tokens <= 0) return;
  if (args.cache_dtype == FATHOM_DTYPE_BF16) {
    FATHOM_LAUNCH(static_cast<unsigned>(args.tokens), 256, stream, write_cache_kernel<uint16_t>)(args);
  } else {
    FATHOM_LAUNCH(static_cast<unsigned>(args.tokens), 256, stream, write_cache_kernel<float>)(args);
  }
}

}  // namespace fathom::gpu
