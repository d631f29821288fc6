#include "kernels/common.cuh"
#include "kernels/norm_rope.cuh"
#include "kernels/rope_yarn.cuh"

namespace fathom::gpu {

namespace {

constexpr int kThreads = 256;

// One block per token row. Each thread takes elements of the row; the first element of a
// rotated pair writes both, the second skips, everything else is copied.
__global__ void rope_kernel(RopeArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  const int64_t t = blockIdx.x;
  const int64_t base = t * a.width, x_base = t * (a.x_ld ? a.x_ld : a.width);
  const float pos = static_cast<float>(a.positions[t]);
  for (int64_t e = threadIdx.x; e < a.width; e += kThreads) {
    const int32_t in_head = static_cast<int32_t>(e % a.head_dim) - a.rope_offset;
    if (in_head < 0 || in_head >= a.rope_dim) {
      store_f32(a.out, a.out_dtype, base + e, load_f32(a.x, a.x_dtype, x_base + e));
      continue;
    }
    if (in_head & 1) continue;  // written with its partner
    float y0, y1;
    rope_rotate(pos, a.inv_freq[in_head / 2], a.amplitude, load_f32(a.x, a.x_dtype, x_base + e),
                load_f32(a.x, a.x_dtype, x_base + e + 1), y0, y1);
    store_f32(a.out, a.out_dtype, base + e, y0);
    store_f32(a.out, a.out_dtype, base + e + 1, y1);
  }
}

}  // namespace

void launch_rope_yarn(const RopeArgs& args, cudaStream_t stream) {
  if (args.rows <= 0) return;
  FATHOM_LAUNCH(static_cast<unsigned>(args.rows), kThreads, stream, rope_kernel)(args);
}

}  // namespace fathom::gpu
