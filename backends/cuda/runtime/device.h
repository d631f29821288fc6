// One CUDA device as the backend uses it: its properties, the stream every operation of the
// backend is ordered on, and the cuBLAS / cuBLASLt state (CUDA only: the HIP build has no BLAS
// and multiplies with the shared kernels).
#pragma once

#include <memory>
#include <string>

#include "vendor/gpu_runtime.h"
#if FATHOM_GPU_CUDA
#include "blas/blas_context.h"
#include "blas/cublaslt_fp8.h"
#endif

namespace fathom::cuda {

class Device {
 public:
  explicit Device(int index);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  int index() const { return index_; }
  const cudaDeviceProp& props() const { return props_; }
  int sm_count() const { return props_.multiProcessorCount; }
  cudaStream_t stream() const { return stream_; }
  // Whether kernels may be launched programmatically here (vendor/launch_mode.h): compute
  // capability 9.0 or later, running code that was compiled with the wait.
  bool programmatic_launch_ok() const { return programmatic_launch_ok_; }
  // Makes this device current for the calling thread (every entry point calls it first).
  void activate() const;
  void synchronize() const;

#if FATHOM_GPU_CUDA
  BlasContext& blas() { return *blas_; }
  Fp8BlockScaledGemm& fp8_gemm() { return *fp8_gemm_; }
#endif

  // "NVIDIA H200, compute capability 9.0, 132 SMs, driver 13.0, runtime 13.0, ..." for device_info.
  std::string description() const;

 private:
  int index_;
  cudaDeviceProp props_{};
  cudaStream_t stream_ = nullptr;
  bool programmatic_launch_ok_ = false;
#if FATHOM_GPU_CUDA
  std::unique_ptr<BlasContext> blas_;
  std::unique_ptr<Fp8BlockScaledGemm> fp8_gemm_;
#endif
};

}  // namespace fathom::cuda
