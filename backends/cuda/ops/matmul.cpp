// matmul: y[T, N] = x[T, K] · W[N, K]ᵀ, W dense (f32, bf16, f16, FP8) or FP8 with 128x128 block
// scales. The path depends on the rows of the run:
//   T <= gemv_max_tokens             gemv kernel, exact (decode);
//   FP8 block-scaled, precision mixed, cuBLASLt block scaling available for the shape:
//                                    per-token 1x128 quantisation + cuBLASLt (prefill);
//   bf16 weights, precision mixed    x rounded to bf16 + cuBLAS (tensor cores, f32 accumulation);
//   f32 weights                      cuBLAS SGEMM (f32);
//   otherwise                        tiled kernel, exact.
#include "blas/cublas_gemm.h"
#include "kernels/copy.cuh"
#include "kernels/fp8_quant.cuh"
#include "ops/exact_matmul.h"
#include "ops/registry.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

class MatmulOp final : public Op {
 public:
  explicit MatmulOp(const OpBuild& b)
      : x_(b.inputs[0]), y_(b.outputs[0]), x_desc_(b.desc.inputs[0]), w_dtype_(b.desc.inputs[1].dtype),
        n_(b.desc.inputs[1].shape[0]), k_(b.desc.inputs[1].shape[1]), gemv_rows_(b.options.gemv_max_tokens),
        mixed_(b.options.precision == MatmulPrecision::mixed), w_(MatrixInput::at(b, 1)) {
    const bool block_scaled = b.desc.inputs[1].layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128;
    fp8_lt_ = mixed_ && block_scaled && w_dtype_ == FATHOM_DTYPE_F8_E4M3FN && b.device.blas().fp8_block_scaling() &&
              Fp8BlockScaledGemm::shape_ok(n_, k_) && b.max_rows(0) > gemv_rows_ && b.is_constant(2);
    if (fp8_lt_) prepare_scales(b);
    const int64_t max_rows = b.max_rows(0);
    workspace_ = exact_matmul_workspace(problem(max_rows, nullptr, nullptr), gemv_rows_, b.device.sm_count());
    const int64_t mp = Fp8BlockScaledGemm::padded_rows(max_rows);
    if (fp8_lt_) {
      workspace_ = std::max(workspace_, WorkspaceCursor::round(static_cast<size_t>(mp * k_)) +
                                            WorkspaceCursor::round(static_cast<size_t>(sdk::ceil_div(k_, 128) * mp * 4)) +
                                            WorkspaceCursor::round(static_cast<size_t>(mp * n_ * 4)));
    }
    if (mixed_ && w_dtype_ == FATHOM_DTYPE_BF16) {
      workspace_ = std::max(workspace_, WorkspaceCursor::round(static_cast<size_t>(max_rows * k_ * 2)));
    }
  }

  size_t workspace_bytes() const override { return workspace_; }

  void launch(const OpRun& r) override {
    const int64_t m = rows(x_desc_, r.tokens);
    if (m == 0) return;
    const float* x = static_cast<const float*>(r.ptr(x_));
    float* y = static_cast<float*>(r.ptr(y_));
    const gpu::MatrixRef w = w_.ref(r);
    WorkspaceCursor ws(r.workspace, r.workspace_bytes);
    if (m > gemv_rows_) {
      if (fp8_lt_ && run_fp8_lt(r, ws, w, x, y, m)) return;
      if (mixed_ && w_dtype_ == FATHOM_DTYPE_BF16) {
        uint16_t* xb = ws.take<uint16_t>(static_cast<size_t>(m * k_));
        gpu::CopyArgs c{x, xb, FATHOM_DTYPE_F32, FATHOM_DTYPE_BF16, 1, m * k_, 0, 0, 0, 0};
        gpu::launch_copy(c, r.stream);
        FATHOM_CUDA_CHECK_LAUNCH("matmul: x to bf16");
        gemm_bf16(r.device.blas(), xb, static_cast<const uint16_t*>(w.data), y, m, n_, k_, n_);
        return;
      }
      if (w_dtype_ == FATHOM_DTYPE_F32) {
        gemm_f32(r.device.blas(), x, static_cast<const float*>(w.data), y, m, n_, k_, k_, n_);
        return;
      }
    }
    gpu::MatmulProblem p = problem(m, x, y);
    p.w[0] = w;
    launch_exact_matmul(p, gemv_rows_, r, ws);
  }

 private:
  gpu::MatmulProblem problem(int64_t m, const float* x, float* y) const { return dense_problem(w_dtype_, n_, k_, m, x, y); }

  // cuBLASLt wants the weight-scale rows padded to a multiple of 4 blocks (and 16-byte aligned):
  // repack the checkpoint's grid once when it is not already so.
  void prepare_scales(const OpBuild& b) {
    const int64_t sn = sdk::ceil_div(n_, 128), sk = sdk::ceil_div(k_, 128);
    const int64_t stride = Fp8BlockScaledGemm::scale_stride(k_);
    const float* scales = static_cast<const float*>(b.input_ptr(2));
    const bool aligned = reinterpret_cast<uintptr_t>(scales) % 16 == 0;
    if (stride == sk && aligned) {
      lt_scales_ = scales;
      return;
    }
    float* padded = static_cast<float*>(b.memory.allocate(static_cast<size_t>(sn * stride) * sizeof(float)));
    FATHOM_CUDA_CHECK(cudaMemsetAsync(padded, 0, static_cast<size_t>(sn * stride) * sizeof(float), b.device.stream()));
    FATHOM_CUDA_CHECK(cudaMemcpy2DAsync(padded, static_cast<size_t>(stride) * sizeof(float), scales,
                                        static_cast<size_t>(sk) * sizeof(float), static_cast<size_t>(sk) * sizeof(float),
                                        static_cast<size_t>(sn), cudaMemcpyDeviceToDevice, b.device.stream()));
    b.device.synchronize();
    lt_scales_ = padded;
  }

  // Quantise x per 1x128 block, multiply with cuBLASLt; false when cuBLASLt has no algorithm
  // for the shape (the caller then takes the exact path).
  bool run_fp8_lt(const OpRun& r, WorkspaceCursor& ws, const gpu::MatrixRef& w, const float* x, float* y, int64_t m) {
    const int64_t mp = Fp8BlockScaledGemm::padded_rows(m);
    Fp8BlockScaledGemm& lt = r.device.fp8_gemm();
    const uint32_t out = lt.output_dtype(n_, k_, mp);
    if (out == 0) return false;
    uint8_t* xq = ws.take<uint8_t>(static_cast<size_t>(mp * k_));
    float* xs = ws.take<float>(static_cast<size_t>(sdk::ceil_div(k_, 128) * mp));
    gpu::Fp8QuantArgs q{x, k_, m, mp, k_, xq, xs};
    gpu::launch_fp8_quant(q, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("matmul: fp8 activation quantisation");
    // D straight into y when it fits: f32 output, no pad rows, aligned; else via the workspace.
    const bool direct = out == FATHOM_DTYPE_F32 && mp == m && reinterpret_cast<uintptr_t>(y) % 16 == 0;
    void* d = direct ? static_cast<void*>(y) : static_cast<void*>(ws.take<float>(static_cast<size_t>(mp * n_)));
    lt.run(static_cast<const uint8_t*>(w.data), lt_scales_, xq, xs, d, n_, k_, mp, r.stream);
    if (!direct) {
      gpu::CopyArgs c{d, y, out, FATHOM_DTYPE_F32, 1, m * n_, 0, 0, 0, 0};
      gpu::launch_copy(c, r.stream);
      FATHOM_CUDA_CHECK_LAUNCH("matmul: cuBLASLt output");
    }
    return true;
  }

  uint32_t x_, y_;
  fathom_tensor_desc x_desc_;
  uint32_t w_dtype_;
  int64_t n_, k_, gemv_rows_;
  bool mixed_;
  MatrixInput w_;
  bool fp8_lt_ = false;
  const float* lt_scales_ = nullptr;
  size_t workspace_ = 0;
};

}  // namespace

fathom_op_support support_matmul(const fathom_op_desc& d) {
  if (!is_f32(d.inputs[0]) || !is_f32(d.outputs[0])) return unsupported("the cuda backend's matmul takes and gives f32 activations");
  if (!sdk::is_float_dtype(d.inputs[1].dtype)) return unsupported("matmul weights must be float");
  return preferred();
}

std::unique_ptr<Op> make_matmul(const OpBuild& b) { return std::make_unique<MatmulOp>(b); }

}  // namespace fathom::cuda
