// The moe_route op: the router logits by the exact product (selection must not depend on
// rounding the activations), then the selection kernel (kernels/moe_route.cu). Declared here
// for the fused route-and-experts op (ops/route_experts.cpp), which runs its parts.
#pragma once

#include <algorithm>

#include "kernels/gemv.cuh"
#include "kernels/moe_route.cuh"
#include "ops/exact_matmul.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

class MoeRouteOp final : public Op {
 public:
  explicit MoeRouteOp(const OpBuild& b)
      : x_(b.inputs[0]), experts_(b.outputs[0]), weights_(b.outputs[1]), x_desc_(b.desc.inputs[0]),
        attrs_(attrs_of<fathom_moe_route_attrs>(b.desc)), gate_(MatrixInput::at(b, 1)), gate_dtype_(b.desc.inputs[1].dtype),
        gemv_rows_(b.options.gemv_max_tokens) {
    if (attrs_.has_bias) bias_ = b.inputs[2];
    const int64_t max_rows = b.max_rows(0);
    workspace_ = WorkspaceCursor::round(static_cast<size_t>(max_rows * attrs_.n_experts) * sizeof(float)) +
                 exact_matmul_workspace(problem(max_rows, nullptr, nullptr), gemv_rows_, b.device.sm_count());
  }

  size_t workspace_bytes() const override { return workspace_; }

  void launch(const OpRun& r) override {
    const int64_t t = rows(x_desc_, r.tokens);
    if (t == 0) return;
    WorkspaceCursor ws(r.workspace, r.workspace_bytes);
    const gpu::RouteArgs selection = selection_args(r, t, ws);
    launch_logits(r, selection, ws);
    gpu::launch_moe_route_select(selection, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("moe_route");
  }

  // The selection's arguments for t tokens, their logits in `ws`.
  gpu::RouteArgs selection_args(const OpRun& r, int64_t t, WorkspaceCursor& ws) const {
    float* logits = ws.take<float>(static_cast<size_t>(t * attrs_.n_experts));
    const float* bias = attrs_.has_bias ? static_cast<const float*>(r.ptr(bias_)) : nullptr;
    return gpu::RouteArgs{logits, bias, static_cast<int32_t*>(r.ptr(experts_)), static_cast<float*>(r.ptr(weights_)), t, attrs_};
  }

  // Whether the logits of t tokens are computed by the gemv decode kernel, which can do the
  // selection and the dispatch after them in the same launch (gemv.cuh, GemvTailKind::route).
  bool logits_take_tail(int64_t t) const { return t <= std::min(gemv_rows_, gpu::kGemvStackMaxRows); }

  // The router logits of selection.tokens tokens into selection.logits; with `tail` (only where
  // logits_take_tail), followed by it in the same launch.
  void launch_logits(const OpRun& r, const gpu::RouteArgs& selection, WorkspaceCursor& ws,
                     const gpu::GemvTail* tail = nullptr) const {
    // The logits are this op's workspace (selection_args), read-only to the selection only.
    float* logits = const_cast<float*>(selection.logits);
    gpu::MatmulProblem p = problem(selection.tokens, static_cast<const float*>(r.ptr(x_)), logits);
    p.w[0] = gate_.ref(r);
    if (tail) {
      gpu::launch_gemv(p, nullptr, r.device.sm_count(), r.stream, tail);  // the decode kernel: no workspace
      FATHOM_CUDA_CHECK_LAUNCH("moe_route: logits, selection and dispatch");
    } else {
      launch_exact_matmul(p, gemv_rows_, r, ws);
    }
  }

  const fathom_moe_route_attrs& attrs() const { return attrs_; }

 private:
  gpu::MatmulProblem problem(int64_t t, const float* x, float* logits) const {
    gpu::MatmulProblem p;
    p.w_dtype = gate_dtype_;
    p.n = attrs_.n_experts;
    p.k = x_desc_.shape[1];
    p.x = x;
    p.ldx = p.k;
    p.y = logits;
    p.ldy = p.n;
    p.rows = t;
    return p;
  }

  uint32_t x_, experts_, weights_;
  fathom_tensor_desc x_desc_;
  fathom_moe_route_attrs attrs_;
  MatrixInput gate_;
  uint32_t gate_dtype_;
  int64_t gemv_rows_;
  uint32_t bias_ = 0;
  size_t workspace_ = 0;
};

}  // namespace fathom::cuda
