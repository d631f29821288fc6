// cuBLAS / cuBLASLt status checks (CUDA plugin only; HIP has no cuBLAS here).
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>

#include <string>

#include "fathom/sdk/status.hpp"

namespace fathom::cuda {

[[noreturn]] inline void fail_cublas(cublasStatus_t s, const char* expr, const char* file, int line) {
  const int32_t code = s == CUBLAS_STATUS_ALLOC_FAILED ? FATHOM_STATUS_RESOURCE_EXHAUSTED
                       : s == CUBLAS_STATUS_NOT_SUPPORTED ? FATHOM_STATUS_UNSUPPORTED
                                                          : FATHOM_STATUS_INTERNAL;
  throw sdk::Error(code, std::string(expr) + ": " + cublasGetStatusName(s) + " (" + cublasGetStatusString(s) + ") [" +
                             file + ":" + std::to_string(line) + "]");
}

inline void check_cublas(cublasStatus_t s, const char* expr, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS) fail_cublas(s, expr, file, line);
}

}  // namespace fathom::cuda

#define FATHOM_CUBLAS_CHECK(expr) ::fathom::cuda::check_cublas((expr), #expr, __FILE__, __LINE__)
