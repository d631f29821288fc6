#include "blas/cublas_gemm.h"

#include "blas/cublas_check.h"

namespace fathom::cuda {

void gemm_bf16(BlasContext& blas, const uint16_t* x, const uint16_t* w, float* y, int64_t m, int64_t n, int64_t k,
               int64_t ldy) {
  const float alpha = 1.f, beta = 0.f;
  FATHOM_CUBLAS_CHECK(cublasGemmEx(blas.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                                   static_cast<int>(k), &alpha, w, CUDA_R_16BF, static_cast<int>(k), x, CUDA_R_16BF,
                                   static_cast<int>(k), &beta, y, CUDA_R_32F, static_cast<int>(ldy), CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT));
}

void gemm_f32(BlasContext& blas, const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k, int64_t ldx,
              int64_t ldy) {
  const float alpha = 1.f, beta = 0.f;
  FATHOM_CUBLAS_CHECK(cublasSgemm(blas.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                                  static_cast<int>(k), &alpha, w, static_cast<int>(k), x, static_cast<int>(ldx), &beta, y,
                                  static_cast<int>(ldy)));
}

}  // namespace fathom::cuda
