// A MoE layer from its router to the next norm (FusionKind::moe_block): moe_route, moe_experts,
// the shared experts' MLP, the add of the two, the residual add and the rms_norm after it. For
// a decode step's one or two tokens that is three kernels instead of eight: the router logits,
// whose last block selects and groups (kernels/gemv.cuh, GemvTailKind::route), then the two
// grouped products with the shared experts folded in as more groups (ops/moe_experts_op.h),
// the down product's last block summing each token's results, adding the residual and
// normalising (GemvTailKind::moe_sum). Where the products do not run on the decode gemv kernel
// (gemv_max_tokens), the sum is a kernel of its own (kernels/rms_norm.cu); where the shared
// experts cannot be folded, and for more tokens, the run's fused runs go as they would alone.
#include "kernels/rms_norm.cuh"
#include "ops/fused.h"
#include "ops/route_experts.h"

namespace fathom::cuda {

namespace {

class MoeBlockOp final : public Op {
 public:
  MoeBlockOp(const MoeBlockBuilds& b, std::vector<std::unique_ptr<Op>> parts)
      : moe_(b.route, b.experts, &b.shared), parts_(std::move(parts)), x_desc_(b.route.desc.inputs[0]),
        residual_(b.add.inputs[0] == b.inner_add.outputs[0] ? b.add.inputs[1] : b.add.inputs[0]), sum_(b.add.outputs[0]),
        norm_w_(b.norm.inputs[1]), out_(b.norm.outputs[0]), norm_w_dtype_(b.norm.desc.inputs[1].dtype),
        out_dtype_(b.norm.desc.outputs[0].dtype), eps_(attrs_of<fathom_rms_norm_attrs>(b.norm.desc).eps) {
    const unsigned zero = 0;
    blocks_done_ = static_cast<unsigned*>(b.route.memory.upload(&zero, sizeof zero));
    workspace_ = moe_.workspace_bytes();
    for (const auto& op : parts_) workspace_ = std::max(workspace_, op->workspace_bytes());
  }

  size_t workspace_bytes() const override { return workspace_; }

  void launch(const OpRun& r) override {
    const int64_t t = rows(x_desc_, r.tokens);
    if (t == 0) return;
    if (!folds(t)) {
      moe_.launch(r, t);
      for (auto& op : parts_) op->launch(r);
      return;
    }
    gpu::RmsNormArgs a{nullptr, r.ptr(norm_w_), r.ptr(out_), FATHOM_DTYPE_F32, norm_w_dtype_, out_dtype_, t,
                       x_desc_.shape[1], eps_};
    a.residual = static_cast<const float*>(r.ptr(residual_));
    a.sum = static_cast<float*>(r.ptr(sum_));
    if (moe_.down_takes_tail(t)) {
      gpu::GemvTail tail;
      tail.kind = gpu::GemvTailKind::moe_sum;
      tail.blocks_done = blocks_done_;
      tail.norm = a;
      moe_.launch_grouped(r, t, true, &tail);
      return;
    }
    const MoeExpertsOp::Buffers buf = moe_.launch_grouped(r, t, true);
    const fathom_moe_route_attrs& attrs = moe_.attrs();
    gpu::launch_moe_sum_rms_norm(a, gpu::MoePairSum{buf.y_pairs, buf.ids, attrs.top_k, buf.shared_groups, attrs.n_experts},
                                 r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("moe block: sum, residual add and rms_norm");
  }

 private:
  bool folds(int64_t t) const {
    return moe_.shared_groups() > 0 && t <= MoeExpertsOp::kMaxFoldedRows && moe_.selects_in_one_block(t);
  }

  RouteAndExperts moe_;
  std::vector<std::unique_ptr<Op>> parts_;  // the shared experts' swiglu_matmul and down matmul, add_add_rms_norm
  fathom_tensor_desc x_desc_;
  uint32_t residual_, sum_, norm_w_, out_;
  uint32_t norm_w_dtype_, out_dtype_;
  float eps_;
  size_t workspace_ = 0;
  unsigned* blocks_done_ = nullptr;  // the down product's counter (GemvTail), zero between launches
};

}  // namespace

std::unique_ptr<Op> make_moe_block(const MoeBlockBuilds& builds, std::vector<std::unique_ptr<Op>> parts) {
  return std::make_unique<MoeBlockOp>(builds, std::move(parts));
}

}  // namespace fathom::cuda
