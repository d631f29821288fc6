#include "kernels/widen_bf16.cuh"

#include "kernels/common.cuh"

namespace fathom::gpu {

namespace {

constexpr int kThreads = 256;

template <WFmt F>
__global__ void widen_bf16_kernel(WidenArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  using Fmt = WeightFormat<F>;
  const auto* w = static_cast<const typename Fmt::Storage*>(a.w);
  const int64_t n = a.rows * a.cols;
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n; i += int64_t{gridDim.x} * kThreads) {
    a.out[i] = f32_to_bf16(Fmt::decode(w[i]));  // exact: no rounding happens
  }
}

}  // namespace

void launch_widen_bf16(const WidenArgs& args, cudaStream_t stream) {
  const int64_t n = args.rows * args.cols;
  if (n <= 0) return;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(blocks < 65535 * 8 ? blocks : 65535 * 8);
  if (args.dtype == FATHOM_DTYPE_F8_E4M3FN) {
    FATHOM_LAUNCH(grid, kThreads, stream, widen_bf16_kernel<WFmt::e4m3>)(args);
  } else if (args.dtype == FATHOM_DTYPE_F8_E5M2) {
    FATHOM_LAUNCH(grid, kThreads, stream, widen_bf16_kernel<WFmt::e5m2>)(args);
  }
}

}  // namespace fathom::gpu
