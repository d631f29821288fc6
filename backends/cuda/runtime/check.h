// Every CUDA, cuBLAS and cuBLASLt call of the plugin goes through one of these macros: a failure
// becomes an sdk::Error (so a status at the ABI boundary, never an abort) whose message keeps
// the expression text, the error's name and description, and where it happened.
#pragma once

#include <string>

#include "fathom/sdk/status.hpp"
#include "vendor/gpu_runtime.h"

namespace fathom::cuda {

// The ABI status a CUDA error maps to.
inline int32_t status_for(cudaError_t e) {
  switch (e) {
    case cudaErrorMemoryAllocation: return FATHOM_STATUS_RESOURCE_EXHAUSTED;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
#if FATHOM_GPU_CUDA  // HIP has no such code
    case cudaErrorDevicesUnavailable:
#endif
      return FATHOM_STATUS_UNAVAILABLE;
    default: return FATHOM_STATUS_INTERNAL;
  }
}

inline std::string describe(cudaError_t e) {
  const std::string name = cudaGetErrorName(e), text = cudaGetErrorString(e);
  return text == name ? name : name + " (" + text + ")";  // HIP 5.2 describes some errors by their name
}

[[noreturn]] inline void fail_cuda(cudaError_t e, const char* expr, const char* file, int line) {
  throw sdk::Error(status_for(e), std::string(expr) + ": " + describe(e) + " [" + file + ":" + std::to_string(line) + "]");
}

inline void check_cuda(cudaError_t e, const char* expr, const char* file, int line) {
  if (e != cudaSuccess) fail_cuda(e, expr, file, line);
}

}  // namespace fathom::cuda

#define FATHOM_CUDA_CHECK(expr) ::fathom::cuda::check_cuda((expr), #expr, __FILE__, __LINE__)

// After a kernel launcher: a bad launch configuration shows up here, not at the launch.
#define FATHOM_CUDA_CHECK_LAUNCH(what) ::fathom::cuda::check_cuda(cudaGetLastError(), what, __FILE__, __LINE__)
