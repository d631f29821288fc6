#include "blas/blas_context.h"

#include "blas/cublas_check.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {
constexpr size_t kWorkspaceBytes = size_t{32} << 20;
}

BlasContext::BlasContext(const cudaDeviceProp& props, cudaStream_t stream) {
  try {
    FATHOM_CUBLAS_CHECK(cublasCreate(&cublas_));
    FATHOM_CUBLAS_CHECK(cublasLtCreate(&lt_));
    FATHOM_CUBLAS_CHECK(cublasSetStream(cublas_, stream));
    // Never TF32 for f32 products: the f32 path must stay f32.
    FATHOM_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
    // A fixed workspace keeps cuBLAS from allocating inside a CUDA graph capture.
    FATHOM_CUDA_CHECK(cudaMalloc(&cublas_workspace_, kWorkspaceBytes));
    FATHOM_CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_, kWorkspaceBytes));
    FATHOM_CUDA_CHECK(cudaMalloc(&workspace_, kWorkspaceBytes));
    workspace_size_ = kWorkspaceBytes;
  } catch (...) {
    release();
    throw;
  }
  const size_t version = cublasLtGetVersion();
  if (props.major != 9 || props.minor != 0) {
    fp8_note_ = "cuBLASLt block-scaled FP8 needs compute capability 9.0 (this GPU is " + std::to_string(props.major) +
                "." + std::to_string(props.minor) + ")";
  } else if (version < 120900) {
    fp8_note_ = "cuBLASLt block-scaled FP8 needs cuBLASLt 12.9 or newer (found " + std::to_string(version) + ")";
  } else {
    fp8_block_scaling_ = true;
    fp8_note_ = "cuBLASLt " + std::to_string(version) + " with 1x128/128x128 block scaling";
  }
}

BlasContext::~BlasContext() { release(); }

void BlasContext::release() noexcept {
  // Must not throw: errors here are ignored (the process may be tearing down).
  if (lt_) cublasLtDestroy(lt_);
  if (cublas_) cublasDestroy(cublas_);
  if (workspace_) cudaFree(workspace_);
  if (cublas_workspace_) cudaFree(cublas_workspace_);
  lt_ = nullptr;
  cublas_ = nullptr;
  workspace_ = cublas_workspace_ = nullptr;
}

}  // namespace fathom::cuda
