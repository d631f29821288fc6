// FP8 e4m3 matmul with DeepSeek's block scaling through cuBLASLt (cuBLAS >= 12.9, sm_90):
// y[M][N] = x[M][K] · W[N][K]ᵀ with W's 128x128 block scales and x's 1x128 per-token scales.
//
// The call sequence and layouts follow docs/reference/cublaslt-fp8-blockscale.md: the weight is
// cuBLAS's A (op T, scale mode BLK128x128_32F), the activation cuBLAS's B (op N, VEC128_32F),
// and D (column-major [N][Mp], ld N) is y row-major. Buffers:
//   w       [N][K] e4m3, K % 16 == 0;
//   w_scale [ceil(N/128)][L4] f32, L4 = ceil(K/128) rounded up to a multiple of 4 (the weight
//           op repacks the checkpoint's [ceil(N/128)][ceil(K/128)] grid once when they differ);
//   x       [Mp][K] e4m3, Mp = M rounded up to a multiple of 4, pad rows zero;
//   x_scale [ceil(K/128)][Mp] f32, token-contiguous (kernels/fp8_quant.cu writes both).
//   d       [Mp][N], f32 when the heuristic offers it for f32 output, else bf16.
// Plans (descriptor, layouts, algorithm) are cached per (N, K, Mp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "blas/blas_context.h"

namespace fathom::cuda {

class Fp8BlockScaledGemm {
 public:
  explicit Fp8BlockScaledGemm(BlasContext& blas);
  ~Fp8BlockScaledGemm();
  Fp8BlockScaledGemm(const Fp8BlockScaledGemm&) = delete;
  Fp8BlockScaledGemm& operator=(const Fp8BlockScaledGemm&) = delete;

  // The rows cuBLASLt is given for m rows of x.
  static int64_t padded_rows(int64_t m) { return (m + 3) / 4 * 4; }
  // Row stride of the padded weight-scale grid.
  static int64_t scale_stride(int64_t k) { return ((k + 127) / 128 + 3) / 4 * 4; }
  // Shapes this path can take at all (alignment rules of the FP8 kernels).
  static bool shape_ok(int64_t n, int64_t k) { return k % 16 == 0 && n % 4 == 0; }

  // Whether cuBLASLt has an algorithm for this shape (asks the heuristic once per shape), and
  // the dtype of its output: FATHOM_DTYPE_F32 or FATHOM_DTYPE_BF16; 0 when there is none.
  uint32_t output_dtype(int64_t n, int64_t k, int64_t mp);

  // Enqueues the product on the BlasContext's stream. output_dtype(n, k, mp) must be non-zero.
  void run(const uint8_t* w, const float* w_scale, const uint8_t* x, const float* x_scale, void* d, int64_t n, int64_t k,
           int64_t mp, cudaStream_t stream);

 private:
  struct Plan;
  Plan* plan(int64_t n, int64_t k, int64_t mp);

  BlasContext& blas_;
  std::map<std::tuple<int64_t, int64_t, int64_t>, std::unique_ptr<Plan>> plans_;
};

}  // namespace fathom::cuda
