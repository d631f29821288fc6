// A product, the residual add of its result and the RMSNorm of the sum in one gemv launch for one
// or two rows (decode): each block adds the residual to the outputs it writes, and the last
// block to finish normalises the rows (kernels/gemv.cuh, GemvTail). DeepSeek's layers end
// their attention block this way (o_proj, the residual add, post_attention_layernorm), and
// their dense MLP (down_proj, the residual add, the next layer's input_layernorm): one kernel
// a time instead of two. More rows run the matmul's own op and the add_rms_norm kernel.
#include <algorithm>

#include "kernels/gemv.cuh"
#include "ops/exact_matmul.h"
#include "ops/fallback_op.h"
#include "ops/fused.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

class MatmulAddRmsNormOp final : public FusedWithFallback {
 public:
  MatmulAddRmsNormOp(const OpBuild& matmul, const OpBuild& add, const OpBuild& norm, std::vector<std::unique_ptr<Op>> parts)
      : FusedWithFallback(std::move(parts), matmul.desc.inputs[0],
                          std::min(matmul.options.gemv_max_tokens, gpu::kGemvStackMaxRows)),
        x_(matmul.inputs[0]), residual_(add.inputs[0] == matmul.outputs[0] ? add.inputs[1] : add.inputs[0]),
        sum_(add.outputs[0]), norm_w_(norm.inputs[1]), out_(norm.outputs[0]), w_dtype_(matmul.desc.inputs[1].dtype),
        norm_w_dtype_(norm.desc.inputs[1].dtype), out_dtype_(norm.desc.outputs[0].dtype), n_(matmul.desc.inputs[1].shape[0]),
        k_(matmul.desc.inputs[1].shape[1]), eps_(attrs_of<fathom_rms_norm_attrs>(norm.desc).eps), w_(MatrixInput::at(matmul, 1)) {
    const unsigned zero = 0;
    blocks_done_ = static_cast<unsigned*>(matmul.memory.upload(&zero, sizeof zero));
  }

 private:
  void launch_fused(const OpRun& r, int64_t m) override {
    gpu::MatmulProblem p = dense_problem(w_dtype_, n_, k_, m, static_cast<const float*>(r.ptr(x_)), static_cast<float*>(r.ptr(sum_)));
    p.w[0] = w_.ref(r);
    gpu::GemvTail tail;
    tail.kind = gpu::GemvTailKind::norm;
    tail.norm = gpu::RmsNormArgs{nullptr, r.ptr(norm_w_), r.ptr(out_), FATHOM_DTYPE_F32, norm_w_dtype_, out_dtype_, m, n_, eps_};
    tail.norm.residual = static_cast<const float*>(r.ptr(residual_));
    tail.blocks_done = blocks_done_;
    // The decode kernel takes no workspace (no split-K at one or two rows).
    gpu::launch_gemv(p, nullptr, r.device.sm_count(), r.stream, &tail);
    FATHOM_CUDA_CHECK_LAUNCH("matmul + add + rms_norm");
  }

  uint32_t x_, residual_, sum_, norm_w_, out_;
  uint32_t w_dtype_, norm_w_dtype_, out_dtype_;
  int64_t n_, k_;
  float eps_;
  MatrixInput w_;
  unsigned* blocks_done_ = nullptr;
};

}  // namespace

std::unique_ptr<Op> make_matmul_add_rms_norm(const OpBuild& matmul, const OpBuild& add, const OpBuild& norm,
                                             std::vector<std::unique_ptr<Op>> parts) {
  return std::make_unique<MatmulAddRmsNormOp>(matmul, add, norm, std::move(parts));
}

}  // namespace fathom::cuda
