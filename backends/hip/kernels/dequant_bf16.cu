#include "kernels/dequant_bf16.cuh"

#include "kernels/common.cuh"

namespace fathom::gpu {

namespace {

constexpr int kThreads = 256;

// One element per thread and step; the scale lookup is the kernels' own (weight_at), so the
// values are exactly those the FP8 kernels would have multiplied with, then rounded to bf16.
template <WFmt F>
__global__ void dequant_bf16_kernel(DequantArgs a) {
  const int64_t n = a.rows * a.cols;
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n; i += int64_t{gridDim.x} * kThreads) {
    a.out[i] = f32_to_bf16(weight_at<F>(a.w, a.cols, i / a.cols, i % a.cols));
  }
}

}  // namespace

void launch_dequant_bf16(const DequantArgs& args, cudaStream_t stream) {
  const int64_t n = args.rows * args.cols;
  if (n <= 0) return;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(blocks < 65535 * 8 ? blocks : 65535 * 8);
  dispatch_wfmt(args.dtype, [&]<WFmt F>() { dequant_bf16_kernel<F><<<grid, kThreads, 0, stream>>>(args); });
}

}  // namespace fathom::gpu
