// The simulated cuBLAS and cuBLASLt (blas/cublas_v2.h, blas/cublasLt.h): column-major products
// computed on the host in stream order, with the documented restrictions of the FP8 block-scaled
// matmul enforced (docs/reference/cublaslt-fp8-blockscale.md of the shared material, §0-§3):
//   - FP8 operands only as "TN" (A transposed, B not), compute type 32F, output f32/bf16/f16;
//   - block scaling: A and B modes VEC128 or BLK128x128, not both BLK; m and n multiples of 4;
//     scale pointers 16-byte aligned;
//   - scale layouts: VEC128 "X-major" (the scale of row x of op(X), K-block b at b * rows + x),
//     BLK128x128 "K-major" with the row stride padded to L4 = round_up(ceil(K/128), 4)
//     (block (x / 128, b) at (x / 128) * L4 + b).
// A product the documentation does not allow is refused (NOT_SUPPORTED / INVALID_VALUE), as the
// library would refuse it, or compute garbage.
#include <cmath>
#include <cstring>
#include <string>

#include <cublasLt.h>
#include "fathom/sdk/float_formats.hpp"

namespace fathom::gpusim {

struct CublasHandle {
  cudaStream_t stream = nullptr;
};
struct LtHandle {};
struct LtMatmulDesc {
  int transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
  int a_scale_mode = CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F, b_scale_mode = CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F;
  const float* a_scale = nullptr;
  const float* b_scale = nullptr;
  int compute = 0;
};
struct LtLayout {
  cudaDataType_t type;
  int64_t rows, cols, ld;
};
struct LtPreference {};

namespace {

float load(const void* p, cudaDataType_t t, int64_t i) {
  switch (t) {
    case CUDA_R_32F: return static_cast<const float*>(p)[i];
    case CUDA_R_16BF: return sdk::floats::bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case CUDA_R_16F: return sdk::floats::f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case CUDA_R_8F_E4M3: return sdk::floats::e4m3fn_to_f32(static_cast<const uint8_t*>(p)[i]);
    case CUDA_R_8F_E5M2: return sdk::floats::e5m2_to_f32(static_cast<const uint8_t*>(p)[i]);
  }
  return NAN;
}

void store(void* p, cudaDataType_t t, int64_t i, float v) {
  switch (t) {
    case CUDA_R_32F: static_cast<float*>(p)[i] = v; break;
    case CUDA_R_16BF: static_cast<uint16_t*>(p)[i] = sdk::floats::f32_to_bf16(v); break;
    case CUDA_R_16F: static_cast<uint16_t*>(p)[i] = sdk::floats::f32_to_f16(v); break;
    default: break;
  }
}

bool is_fp8(cudaDataType_t t) { return t == CUDA_R_8F_E4M3 || t == CUDA_R_8F_E5M2; }

// Element (i, p) of op(X) for X stored column-major with leading dimension ld.
int64_t op_index(int trans, int64_t i, int64_t p, int64_t ld) { return trans == CUBLAS_OP_N ? i + p * ld : p + i * ld; }

// The scale of element (x, p) of op(X), where op(X) has `rows` rows (m for A, n for B) and the
// reduction has k elements.
float scale_at(int mode, const float* s, int64_t x, int64_t p, int64_t rows, int64_t k) {
  if (mode == CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F) return s[(p / 128) * rows + x];
  if (mode == CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F) {
    const int64_t l4 = ((k + 127) / 128 + 3) / 4 * 4;
    return s[(x / 128) * l4 + p / 128];
  }
  return 1.f;
}

bool block_scaled(int mode) {
  return mode == CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F || mode == CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F;
}

// Why the documentation does not allow this matmul, or SUCCESS.
cublasStatus_t lt_check(const LtMatmulDesc& d, const LtLayout& a, const LtLayout& b, const LtLayout& out) {
  const int64_t m = d.transa == CUBLAS_OP_N ? a.rows : a.cols, k = d.transa == CUBLAS_OP_N ? a.cols : a.rows;
  const int64_t kb = d.transb == CUBLAS_OP_N ? b.rows : b.cols, n = d.transb == CUBLAS_OP_N ? b.cols : b.rows;
  if (k != kb || out.rows != m || out.cols != n || out.ld < m) return CUBLAS_STATUS_INVALID_VALUE;
  if (d.compute != CUBLAS_COMPUTE_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (is_fp8(a.type) || is_fp8(b.type)) {
    if (d.transa != CUBLAS_OP_T || d.transb != CUBLAS_OP_N) return CUBLAS_STATUS_NOT_SUPPORTED;  // "TN" only
    if (out.type != CUDA_R_32F && out.type != CUDA_R_16BF && out.type != CUDA_R_16F) return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (block_scaled(d.a_scale_mode) || block_scaled(d.b_scale_mode)) {
    if (d.a_scale_mode == CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F &&
        d.b_scale_mode == CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F)
      return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!block_scaled(d.a_scale_mode) || !block_scaled(d.b_scale_mode)) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (m % 4 != 0 || n % 4 != 0) return CUBLAS_STATUS_INVALID_VALUE;  // "M and N must be multiples of 4"
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

}  // namespace fathom::gpusim

using namespace fathom::gpusim;

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new CublasHandle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void*, size_t) { return CUBLAS_STATUS_SUCCESS; }

const char* cublasGetStatusName(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}
const char* cublasGetStatusString(cublasStatus_t s) { return cublasGetStatusName(s); }

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                            const void* alpha, const void* a, cudaDataType_t a_type, int lda, const void* b,
                            cudaDataType_t b_type, int ldb, const void* beta, void* c, cudaDataType_t c_type, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t) {
  if (m < 0 || n < 0 || k < 0 || ldc < m) return CUBLAS_STATUS_INVALID_VALUE;
  if (lda < (transa == CUBLAS_OP_N ? m : k) || ldb < (transb == CUBLAS_OP_N ? k : n)) return CUBLAS_STATUS_INVALID_VALUE;
  if (compute != CUBLAS_COMPUTE_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  const cudaError_t e = run_on_stream(handle->stream, [=] {
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < m; ++i) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p)
          sum += double{load(a, a_type, op_index(transa, i, p, lda))} * load(b, b_type, op_index(transb, p, j, ldb));
        const float prev = be != 0.f ? load(c, c_type, i + j * ldc) : 0.f;
        store(c, c_type, i + j * ldc, static_cast<float>(al * sum + be * prev));
      }
    }
  });
  return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                           const float* alpha, const float* a, int lda, const float* b, int ldb, const float* beta,
                           float* c, int ldc) {
  return cublasGemmEx(handle, transa, transb, m, n, k, alpha, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, beta, c, CUDA_R_32F,
                      ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

size_t cublasLtGetVersion() { return 130100; }
cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
  *handle = new LtHandle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* desc, cublasComputeType_t compute, cudaDataType_t scale) {
  if (scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  *desc = new LtMatmulDesc;
  (*desc)->compute = compute;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  delete desc;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void* value, size_t bytes) {
  auto int_value = [&](int& out) {
    if (bytes != sizeof(int32_t)) return CUBLAS_STATUS_INVALID_VALUE;
    int32_t v;
    std::memcpy(&v, value, sizeof v);
    out = v;
    return CUBLAS_STATUS_SUCCESS;
  };
  auto pointer_value = [&](const float*& out) {
    if (bytes != sizeof(void*)) return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&out, value, sizeof out);
    return CUBLAS_STATUS_SUCCESS;
  };
  switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA: return int_value(desc->transa);
    case CUBLASLT_MATMUL_DESC_TRANSB: return int_value(desc->transb);
    case CUBLASLT_MATMUL_DESC_A_SCALE_MODE: return int_value(desc->a_scale_mode);
    case CUBLASLT_MATMUL_DESC_B_SCALE_MODE: return int_value(desc->b_scale_mode);
    case CUBLASLT_MATMUL_DESC_A_SCALE_POINTER: return pointer_value(desc->a_scale);
    case CUBLASLT_MATMUL_DESC_B_SCALE_POINTER: return pointer_value(desc->b_scale);
    default: return CUBLAS_STATUS_NOT_SUPPORTED;  // nothing else is simulated
  }
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* layout, cudaDataType_t type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
  if (ld < static_cast<int64_t>(rows)) return CUBLAS_STATUS_INVALID_VALUE;
  *layout = new LtLayout{type, static_cast<int64_t>(rows), static_cast<int64_t>(cols), ld};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  delete layout;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* pref) {
  *pref = new LtPreference;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
  delete pref;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t, cublasLtMatmulPreferenceAttributes_t,
                                                    const void*, size_t) {
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t d,
                                              cublasLtMatmulPreference_t, int requested,
                                              cublasLtMatmulHeuristicResult_t* results, int* returned) {
  *returned = 0;
  if (requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
  if (const cublasStatus_t s = lt_check(*desc, *a, *b, *d)) return s;
  results[0] = cublasLtMatmulHeuristicResult_t{};
  results[0].state = CUBLAS_STATUS_SUCCESS;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t desc, const void* alpha, const void* a,
                              cublasLtMatrixLayout_t a_layout, const void* b, cublasLtMatrixLayout_t b_layout,
                              const void* beta, const void* c, cublasLtMatrixLayout_t c_layout, void* d,
                              cublasLtMatrixLayout_t d_layout, const cublasLtMatmulAlgo_t*, void*, size_t,
                              cudaStream_t stream) {
  if (const cublasStatus_t s = lt_check(*desc, *a_layout, *b_layout, *d_layout)) return s;
  const LtMatmulDesc dd = *desc;  // the attributes as of this call: a later set does not reach it
  if ((block_scaled(dd.a_scale_mode) && (!dd.a_scale || reinterpret_cast<uintptr_t>(dd.a_scale) % 16)) ||
      (block_scaled(dd.b_scale_mode) && (!dd.b_scale || reinterpret_cast<uintptr_t>(dd.b_scale) % 16)))
    return CUBLAS_STATUS_INVALID_VALUE;  // scale start addresses must be 16-byte aligned
  const LtLayout la = *a_layout, lb = *b_layout, lc = *c_layout, ld = *d_layout;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  const cudaError_t e = run_on_stream(stream, [=] {
    const int64_t m = ld.rows, n = ld.cols, k = dd.transa == CUBLAS_OP_N ? la.cols : la.rows;
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < m; ++i) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p) {
          const float av = load(a, la.type, op_index(dd.transa, i, p, la.ld)) * scale_at(dd.a_scale_mode, dd.a_scale, i, p, m, k);
          const float bv = load(b, lb.type, op_index(dd.transb, p, j, lb.ld)) * scale_at(dd.b_scale_mode, dd.b_scale, j, p, n, k);
          sum += double{av} * bv;
        }
        const float prev = be != 0.f ? load(c, lc.type, i + j * lc.ld) : 0.f;
        store(d, ld.type, i + j * ld.ld, static_cast<float>(al * sum + be * prev));
      }
    }
  });
  return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}
