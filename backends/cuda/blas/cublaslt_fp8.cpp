#include "blas/cublaslt_fp8.h"

#include "blas/cublas_check.h"
#include "fathom/plugin_api.h"

namespace fathom::cuda {

struct Fp8BlockScaledGemm::Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
  uint32_t out_dtype = 0;  // 0: no algorithm for this shape

  ~Plan() {
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

Fp8BlockScaledGemm::Fp8BlockScaledGemm(BlasContext& blas) : blas_(blas) {}
Fp8BlockScaledGemm::~Fp8BlockScaledGemm() = default;

namespace {

template <typename T>
void set_attr(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const T& value) {
  FATHOM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, attr, &value, sizeof value));
}

// Builds the descriptor and layouts for one output dtype and asks the heuristic for an
// algorithm; returns false (plan left empty of algorithm) when it offers none.
bool try_plan(BlasContext& blas, int64_t n, int64_t k, int64_t mp, cudaDataType_t out,
              cublasLtMatmulDesc_t* desc, cublasLtMatrixLayout_t* la, cublasLtMatrixLayout_t* lb,
              cublasLtMatrixLayout_t* ld, cublasLtMatmulAlgo_t* algo, size_t* workspace) {
  FATHOM_CUBLAS_CHECK(cublasLtMatmulDescCreate(desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  set_attr(*desc, CUBLASLT_MATMUL_DESC_TRANSA, static_cast<int32_t>(CUBLAS_OP_T));
  set_attr(*desc, CUBLASLT_MATMUL_DESC_TRANSB, static_cast<int32_t>(CUBLAS_OP_N));
  set_attr(*desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, static_cast<int32_t>(CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F));
  set_attr(*desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, static_cast<int32_t>(CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F));
  // Placeholders until run() sets the real scale buffers (valid, aligned device memory).
  const void* placeholder = blas.workspace();
  set_attr(*desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, placeholder);
  set_attr(*desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, placeholder);
  FATHOM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(la, CUDA_R_8F_E4M3, static_cast<uint64_t>(k), static_cast<uint64_t>(n), k));
  FATHOM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(lb, CUDA_R_8F_E4M3, static_cast<uint64_t>(k), static_cast<uint64_t>(mp), k));
  FATHOM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(ld, out, static_cast<uint64_t>(n), static_cast<uint64_t>(mp), n));

  cublasLtMatmulPreference_t pref = nullptr;
  FATHOM_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t max_ws = blas.workspace_size();
  cublasStatus_t st =
      cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws, sizeof max_ws);
  cublasLtMatmulHeuristicResult_t results[8] = {};
  int found = 0;
  if (st == CUBLAS_STATUS_SUCCESS) {
    st = cublasLtMatmulAlgoGetHeuristic(blas.lt(), *desc, *la, *lb, *ld, *ld, pref, 8, results, &found);
  }
  cublasLtMatmulPreferenceDestroy(pref);
  // NOT_SUPPORTED / INVALID_VALUE from the heuristic mean "no algorithm": the caller falls back.
  if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED && st != CUBLAS_STATUS_INVALID_VALUE)
    FATHOM_CUBLAS_CHECK(st);
  for (int i = 0; st == CUBLAS_STATUS_SUCCESS && i < found; ++i) {
    if (results[i].state == CUBLAS_STATUS_SUCCESS && results[i].workspaceSize <= max_ws) {
      *algo = results[i].algo;
      *workspace = results[i].workspaceSize;
      return true;
    }
  }
  return false;
}

}  // namespace

Fp8BlockScaledGemm::Plan* Fp8BlockScaledGemm::plan(int64_t n, int64_t k, int64_t mp) {
  auto key = std::make_tuple(n, k, mp);
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second.get();
  auto p = std::make_unique<Plan>();
  if (blas_.fp8_block_scaling() && shape_ok(n, k) && mp % 4 == 0) {
    // f32 output first (the graph's activations are f32); bf16 is the documented fallback.
    for (auto [cuda_type, dtype] : {std::pair{CUDA_R_32F, uint32_t{FATHOM_DTYPE_F32}},
                                    std::pair{CUDA_R_16BF, uint32_t{FATHOM_DTYPE_BF16}}}) {
      Plan attempt;
      if (try_plan(blas_, n, k, mp, cuda_type, &attempt.desc, &attempt.a, &attempt.b, &attempt.d, &attempt.algo,
                   &attempt.workspace)) {
        std::swap(attempt.desc, p->desc);
        std::swap(attempt.a, p->a);
        std::swap(attempt.b, p->b);
        std::swap(attempt.d, p->d);
        p->algo = attempt.algo;
        p->workspace = attempt.workspace;
        p->out_dtype = dtype;
        break;
      }
    }
  }
  return plans_.emplace(key, std::move(p)).first->second.get();
}

uint32_t Fp8BlockScaledGemm::output_dtype(int64_t n, int64_t k, int64_t mp) { return plan(n, k, mp)->out_dtype; }

void Fp8BlockScaledGemm::run(const uint8_t* w, const float* w_scale, const uint8_t* x, const float* x_scale, void* d,
                             int64_t n, int64_t k, int64_t mp, cudaStream_t stream) {
  Plan* p = plan(n, k, mp);
  if (p->out_dtype == 0) throw sdk::Error(FATHOM_STATUS_INTERNAL, "cuBLASLt FP8 run without an algorithm");
  const void* a_scale = w_scale;
  const void* b_scale = x_scale;
  set_attr(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, a_scale);
  set_attr(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, b_scale);
  const float alpha = 1.f, beta = 0.f;  // the block scales carry the dequantisation
  FATHOM_CUBLAS_CHECK(cublasLtMatmul(blas_.lt(), p->desc, &alpha, w, p->a, x, p->b, &beta, d, p->d, d, p->d, &p->algo,
                                     blas_.workspace(), p->workspace, stream));
}

}  // namespace fathom::cuda
