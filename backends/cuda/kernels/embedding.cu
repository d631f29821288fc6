#include "kernels/common.cuh"
#include "kernels/embedding.cuh"

namespace fathom::gpu {

namespace {

constexpr int kThreads = 256;

// One block per token row; threads stride over the row.
__global__ void embedding_kernel(EmbeddingArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  const int64_t t = blockIdx.x;
  const int32_t id = a.ids[t];
  if (id < 0 || id >= a.vocab) {
    if (threadIdx.x == 0) report_error(a.error, kErrTokenId);
    return;
  }
  const int64_t src = int64_t{id} * a.width, dst = t * a.width;
  for (int64_t d = threadIdx.x; d < a.width; d += kThreads) {
    store_f32(a.out, a.out_dtype, dst + d, load_f32(a.table, a.table_dtype, src + d));
  }
}

}  // namespace

void launch_embedding(const EmbeddingArgs& args, cudaStream_t stream) {
  if (args.tokens <= 0) return;
  FATHOM_LAUNCH(static_cast<unsigned>(args.tokens), kThreads, stream, embedding_kernel)(args);
}

}  // namespace fathom::gpu
