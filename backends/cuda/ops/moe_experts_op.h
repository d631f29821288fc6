// The moe_experts op: only routed experts are computed. The (token, slot) pairs are grouped by
// expert on the device (kernels/moe_dispatch.cu); then two grouped products — gate and up fused
// with SwiGLU, then down scaled by the routing weight — read only the experts some token chose;
// then each token sums its K results in order. Declared here for the fused route-and-experts op
// (ops/route_experts.cpp), which runs its parts.
#pragma once

#include "kernels/moe_dispatch.cuh"
#include "ops/exact_matmul.h"
#include "ops/util.h"
#include "ops/weight_store.h"
#include "runtime/check.h"

namespace fathom::cuda {

class MoeExpertsOp final : public Op {
 public:
  explicit MoeExpertsOp(const OpBuild& b)
      : x_(b.inputs[0]), experts_(b.inputs[1]), weights_(b.inputs[2]), out_(b.outputs[0]), x_desc_(b.desc.inputs[0]),
        attrs_(attrs_of<fathom_moe_experts_attrs>(b.desc)), w_dtype_(stored_dtype(b.desc.inputs[3].dtype)),
        gemv_rows_(b.options.gemv_max_tokens) {
    // Device tables of the experts' matrices: [E][gate, up] and [E][down].
    std::vector<gpu::MatrixRef> up, down;
    bool aligned = true;
    size_t i = 3;
    for (int32_t e = 0; e < attrs_.n_experts; ++e) {
      for (int m = 0; m < 3; ++m) {
        if (!b.is_constant(i))
          sdk::fail_unsupported("node '" + b.name + "': moe_experts on " FATHOM_GPU_BACKEND " needs the expert matrices bound at compile (weights)");
        const gpu::MatrixRef ref = store_matrix(b, i).ref;
        aligned = aligned && reinterpret_cast<uintptr_t>(ref.data) % 16 == 0;
        (m < 2 ? up : down).push_back(ref);
        i += b.desc.inputs[i].layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128 ? 2 : 1;
      }
    }
    up_table_ = static_cast<const gpu::MatrixRef*>(b.memory.upload(up.data(), up.size() * sizeof(gpu::MatrixRef)));
    down_table_ = static_cast<const gpu::MatrixRef*>(b.memory.upload(down.data(), down.size() * sizeof(gpu::MatrixRef)));
    aligned_ = aligned;

    const int64_t max_rows = b.max_rows(0);
    const int64_t pairs = max_rows * attrs_.top_k;
    const int sm = b.device.sm_count();
    workspace_ = 2 * WorkspaceCursor::round(static_cast<size_t>(attrs_.n_experts) * 4) +
                 2 * WorkspaceCursor::round(static_cast<size_t>(pairs) * 4) +
                 WorkspaceCursor::round(static_cast<size_t>(pairs * attrs_.intermediate) * 4) +
                 WorkspaceCursor::round(static_cast<size_t>(pairs * attrs_.hidden) * 4) +
                 std::max(exact_matmul_workspace(up_problem(max_rows, {}), gemv_rows_, sm),
                          exact_matmul_workspace(down_problem(max_rows, {}), gemv_rows_, sm));
  }

  size_t workspace_bytes() const override { return workspace_; }

  void launch(const OpRun& r) override {
    const int64_t t = rows(x_desc_, r.tokens);
    if (t == 0) return;
    WorkspaceCursor ws(r.workspace, r.workspace_bytes);
    const Buffers buf = take_buffers(r, t, ws);
    const gpu::MoeDispatchArgs d = dispatch_args(r, t, buf);
    if (!gpu::moe_dispatch_in_one_block(t * attrs_.top_k, attrs_.n_experts))
      FATHOM_CUDA_CHECK(cudaMemsetAsync(buf.counts, 0, static_cast<size_t>(attrs_.n_experts) * 4, r.stream));
    gpu::launch_moe_dispatch(d, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("moe_experts: dispatch");
    launch_products(r, t, buf, ws);
  }

  // The parts of launch(), for a fused op that groups the pairs itself.
  struct Buffers {
    int32_t *counts = nullptr, *offsets = nullptr, *slot = nullptr, *pair_ids = nullptr;
    float *h = nullptr, *y_pairs = nullptr;
    const float* x = nullptr;
    const float* route_weights = nullptr;
  };

  Buffers take_buffers(const OpRun& r, int64_t t, WorkspaceCursor& ws) const {
    const int64_t pairs = t * attrs_.top_k;
    Buffers buf;
    buf.counts = ws.take<int32_t>(static_cast<size_t>(attrs_.n_experts));
    buf.offsets = ws.take<int32_t>(static_cast<size_t>(attrs_.n_experts));
    buf.slot = ws.take<int32_t>(static_cast<size_t>(pairs));
    buf.pair_ids = ws.take<int32_t>(static_cast<size_t>(pairs));
    buf.h = ws.take<float>(static_cast<size_t>(pairs * attrs_.intermediate));
    buf.y_pairs = ws.take<float>(static_cast<size_t>(pairs * attrs_.hidden));
    buf.x = static_cast<const float*>(r.ptr(x_));
    buf.route_weights = static_cast<const float*>(r.ptr(weights_));
    return buf;
  }

  gpu::MoeDispatchArgs dispatch_args(const OpRun& r, int64_t t, const Buffers& buf) const {
    return gpu::MoeDispatchArgs{static_cast<const int32_t*>(r.ptr(experts_)), t, attrs_.top_k, attrs_.n_experts, buf.counts,
                                buf.offsets, buf.slot, buf.pair_ids, r.error};
  }

  // After the dispatch: the two grouped products and each token's sum.
  void launch_products(const OpRun& r, int64_t t, const Buffers& buf, WorkspaceCursor& ws) const {
    launch_exact_matmul(up_problem(t, buf), gemv_rows_, r, ws);
    launch_exact_matmul(down_problem(t, buf), gemv_rows_, r, ws);
    gpu::MoeCombineArgs c{buf.y_pairs, static_cast<const int32_t*>(r.ptr(experts_)), static_cast<float*>(r.ptr(out_)), t,
                          attrs_.hidden, attrs_.top_k, attrs_.n_experts};
    gpu::launch_moe_combine(c, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("moe_experts: combine");
  }

 private:
  gpu::MatmulProblem grouped(int64_t t, const Buffers& buf) const {
    gpu::MatmulProblem p;
    p.w_dtype = w_dtype_;
    p.groups = attrs_.n_experts;
    p.group_offsets = buf.offsets;
    p.group_counts = buf.counts;
    p.pair_ids = buf.pair_ids;
    p.max_rows = t;
    // Routed pairs per expert if routing were even, with half again as margin.
    p.group_rows_hint = std::min<int64_t>(t, (3 * t * attrs_.top_k + 2 * attrs_.n_experts - 1) / (2 * attrs_.n_experts));
    p.matrices_aligned = aligned_;
    return p;
  }

  // h[pair] = silu(x[token] · gateᵀ) ⊙ (x[token] · upᵀ)
  gpu::MatmulProblem up_problem(int64_t t, const Buffers& buf) const {
    gpu::MatmulProblem p = grouped(t, buf);
    p.epilogue = gpu::Epilogue::swiglu;
    p.n = attrs_.intermediate;
    p.k = attrs_.hidden;
    p.x = buf.x;
    p.ldx = attrs_.hidden;
    p.x_row_div = attrs_.top_k;
    p.y = buf.h;
    p.ldy = attrs_.intermediate;
    p.matrices = up_table_;
    return p;
  }

  // y_pairs[pair] = weight[pair] · (h[pair] · downᵀ)
  gpu::MatmulProblem down_problem(int64_t t, const Buffers& buf) const {
    gpu::MatmulProblem p = grouped(t, buf);
    p.epilogue = gpu::Epilogue::row_scale;
    p.row_scale = buf.route_weights;
    p.n = attrs_.hidden;
    p.k = attrs_.intermediate;
    p.x = buf.h;
    p.ldx = attrs_.intermediate;
    p.x_row_div = 1;
    p.y = buf.y_pairs;
    p.ldy = attrs_.hidden;
    p.matrices = down_table_;
    return p;
  }

  uint32_t x_, experts_, weights_, out_;
  fathom_tensor_desc x_desc_;
  fathom_moe_experts_attrs attrs_;
  uint32_t w_dtype_;
  int64_t gemv_rows_;
  const gpu::MatrixRef* up_table_ = nullptr;
  const gpu::MatrixRef* down_table_ = nullptr;
  bool aligned_ = false;
  size_t workspace_ = 0;
};

}  // namespace fathom::cuda
