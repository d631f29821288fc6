// cuBLAS and cuBLASLt handles of one device, with the workspace they use. CUDA plugin only.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>

#include <cstddef>
#include <string>

#include "vendor/gpu_runtime.h"

namespace fathom::cuda {

class BlasContext {
 public:
  // Creates the handles on the current device, bound to `stream`.
  BlasContext(const cudaDeviceProp& props, cudaStream_t stream);
  ~BlasContext();
  BlasContext(const BlasContext&) = delete;
  BlasContext& operator=(const BlasContext&) = delete;

  cublasHandle_t cublas() const { return cublas_; }
  cublasLtHandle_t lt() const { return lt_; }
  // The cuBLASLt workspace (cuBLAS has its own). 32 MiB: NVIDIA's recommendation for Hopper.
  void* workspace() const { return workspace_; }
  size_t workspace_size() const { return workspace_size_; }

  // Whether cuBLASLt's 1x128 / 128x128 block-scaled FP8 matmul can exist here (compute
  // capability 9.0 and cuBLASLt >= 12.9); when not, why.
  bool fp8_block_scaling() const { return fp8_block_scaling_; }
  const std::string& fp8_block_scaling_note() const { return fp8_note_; }

 private:
  void release() noexcept;

  cublasHandle_t cublas_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_size_ = 0;
  void* cublas_workspace_ = nullptr;
  bool fp8_block_scaling_ = false;
  std::string fp8_note_;
};

}  // namespace fathom::cuda
