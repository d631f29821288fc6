#include "kernels/binary.cuh"
#include "kernels/common.cuh"

namespace fathom::gpu {

namespace {

constexpr int kThreads = 256;

// The common case (all f32) gets its own instantiation: no per-element dtype switch.
template <bool kAllF32>
__global__ void add_kernel(BinaryArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < a.n; i += int64_t{gridDim.x} * kThreads) {
    if constexpr (kAllF32) {
      static_cast<float*>(a.out)[i] = static_cast<const float*>(a.a)[i] + static_cast<const float*>(a.b)[i];
    } else {
      store_f32(a.out, a.out_dtype, i, load_f32(a.a, a.a_dtype, i) + load_f32(a.b, a.b_dtype, i));
    }
  }
}

template <bool kAllF32>
__global__ void silu_mul_kernel(BinaryArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < a.n; i += int64_t{gridDim.x} * kThreads) {
    const double g = kAllF32 ? static_cast<const float*>(a.a)[i] : load_f32(a.a, a.a_dtype, i);
    const double u = kAllF32 ? static_cast<const float*>(a.b)[i] : load_f32(a.b, a.b_dtype, i);
    const float v = static_cast<float>(g / (1.0 + exp(-g)) * u);
    if constexpr (kAllF32) {
      static_cast<float*>(a.out)[i] = v;
    } else {
      store_f32(a.out, a.out_dtype, i, v);
    }
  }
}

unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

bool all_f32(const BinaryArgs& a) {
  return a.a_dtype == FATHOM_DTYPE_F32 && a.b_dtype == FATHOM_DTYPE_F32 && a.out_dtype == FATHOM_DTYPE_F32;
}

}  // namespace

void launch_add(const BinaryArgs& args, cudaStream_t stream) {
  if (args.n <= 0) return;
  if (all_f32(args)) {
    FATHOM_LAUNCH(grid_for(args.n), kThreads, stream, add_kernel<true>)(args);
  } else {
    FATHOM_LAUNCH(grid_for(args.n), kThreads, stream, add_kernel<false>)(args);
  }
}

void launch_silu_mul(const BinaryArgs& args, cudaStream_t stream) {
  if (args.n <= 0) return;
  if (all_f32(args)) {
    FATHOM_LAUNCH(grid_for(args.n), kThreads, stream, silu_mul_kernel<true>)(args);
  } else {
    FATHOM_LAUNCH(grid_for(args.n), kThreads, stream, silu_mul_kernel<false>)(args);
  }
}

}  // namespace fathom::gpu
