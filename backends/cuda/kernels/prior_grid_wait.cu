#include "kernels/prior_grid_wait.cuh"

#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

namespace {

// Never launched: the driver is asked which virtual architecture its code for this device came
// from. Every kernel is built with the same architectures, so they all came from the same one.
__global__ void wait_probe_kernel() { fathom_wait_prior_grid(); }

}  // namespace

bool device_code_waits_for_prior_grid() {
#if defined(FATHOM_GPU_SIM)
  (void)wait_probe_kernel;
  return true;  // the simulator checks every kernel's wait instead
#elif FATHOM_GPU_HIP
  (void)wait_probe_kernel;
  return false;  // HIP launches are never programmatic
#else
  cudaFuncAttributes attributes{};
  if (cudaFuncGetAttributes(&attributes, wait_probe_kernel) != cudaSuccess) {
    cudaGetLastError();  // e.g. no code for this device: the first real launch will say so
    return false;
  }
  return attributes.ptxVersion >= 90;
#endif
}

}  // namespace fathom::gpu
