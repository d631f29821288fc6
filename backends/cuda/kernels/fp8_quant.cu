#include "kernels/common.cuh"
#include "kernels/fp8_quant.cuh"

namespace fathom::gpu {

namespace {

constexpr int kThreads = 256;
constexpr int kGroup = 128;

// One warp per (row, 128-group). Each lane holds 128 / warp size elements.
__global__ void fp8_quant_kernel(Fp8QuantArgs a) {
  fathom_wait_prior_grid();  // first: see vendor/launch_mode.h
  constexpr int W = FATHOM_WARP_SIZE, kPerLane = kGroup / W;
  const int lane = threadIdx.x % W;
  const int64_t groups = (a.k + kGroup - 1) / kGroup;
  const int64_t item = (int64_t{blockIdx.x} * kThreads + threadIdx.x) / W;  // row * groups + group
  if (item >= a.padded_rows * groups) return;
  const int64_t row = item / groups, group = item % groups;
  const int64_t k0 = group * kGroup;
  float v[kPerLane];
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int64_t k = k0 + i * W + lane;
    v[i] = row < a.rows && k < a.k ? a.x[row * a.ldx + k] : 0.f;
    amax = fmaxf(amax, fabsf(v[i]));
  }
  amax = warp_max(amax);
  const float scale = amax > 0.f ? amax / 448.f : 1.f;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int64_t k = k0 + i * W + lane;
    if (k < a.k) a.xq[row * a.k + k] = f32_to_e4m3fn(v[i] / scale, true);
  }
  if (lane == 0) a.scales[group * a.padded_rows + row] = scale;
}

}  // namespace

void launch_fp8_quant(const Fp8QuantArgs& args, cudaStream_t stream) {
  const int64_t warps = args.padded_rows * ((args.k + kGroup - 1) / kGroup);
  if (warps <= 0) return;
  const int64_t blocks = (warps * FATHOM_WARP_SIZE + kThreads - 1) / kThreads;
  FATHOM_LAUNCH(static_cast<unsigned>(blocks), kThreads, stream, fp8_quant_kernel)(args);
}

}  // namespace fathom::gpu
