// Device-side generation of benchmark data: weights, scales and activations are made in GPU
// memory from a counter-based hash (no host round trip for the 16 GB of a V2-Lite-sized model).
#include <cstdint>

#include "bench_fill.h"
#include "kernels/float_codec.cuh"

namespace fathom::bench {

namespace {

__device__ __forceinline__ uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in [lo, hi).
__device__ __forceinline__ float uniform(uint64_t seed, uint64_t i, float lo, float hi) {
  const float u = static_cast<float>(mix(seed * 0x100000001b3ull + i) >> 40) * (1.0f / 16777216.0f);
  return lo + (hi - lo) * u;
}

__global__ void fill_kernel(void* p, uint64_t n, uint32_t kind, uint64_t seed, float lo, float hi) {
  for (uint64_t i = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; i < n; i += uint64_t{gridDim.x} * blockDim.x) {
    const float v = uniform(seed, i, lo, hi);
    switch (kind) {
      case kFillF32: static_cast<float*>(p)[i] = v; break;
      case kFillBf16: static_cast<uint16_t*>(p)[i] = gpu::f32_to_bf16(v); break;
      case kFillE4m3: static_cast<uint8_t*>(p)[i] = gpu::f32_to_e4m3fn(v, true); break;
      default: break;
    }
  }
}

}  // namespace

void fill(void* p, uint64_t n, uint32_t kind, uint64_t seed, float lo, float hi, cudaStream_t stream) {
  if (n == 0) return;
  uint64_t blocks = (n + 255) / 256;
  if (blocks > 65535ull * 16) blocks = 65535ull * 16;
  fill_kernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(p, n, kind, seed, lo, hi);
}

}  // namespace fathom::bench
