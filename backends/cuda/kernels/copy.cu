#include "kernels/common.cuh"
#include "kernels/copy.cuh"

namespace fathom::gpu {

namespace {

constexpr int kThreads = 256;

__global__ void copy_kernel(CopyArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  const int64_t n = a.rows * a.width;
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n; i += int64_t{gridDim.x} * kThreads) {
    const int64_t r = i / a.width, j = i - r * a.width;
    const int64_t s = r * a.src_stride + a.src_offset + j, d = r * a.dst_stride + a.dst_offset + j;
    if (a.src_dtype == a.dst_dtype && a.src_dtype == FATHOM_DTYPE_F32) {
      static_cast<float*>(a.dst)[d] = static_cast<const float*>(a.src)[s];
    } else {
      store_f32(a.dst, a.dst_dtype, d, load_f32(a.src, a.src_dtype, s));
    }
  }
}

}  // namespace

void launch_copy(const CopyArgs& args, cudaStream_t stream) {
  const int64_t n = args.rows * args.width;
  if (n <= 0) return;
  int64_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > 65535 * 8) blocks = 65535 * 8;
  FATHOM_LAUNCH(static_cast<unsigned>(blocks), kThreads, stream, copy_kernel)(args);
}

}  // namespace fathom::gpu
