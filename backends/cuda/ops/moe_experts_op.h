// The moe_experts op: only routed experts are computed. The (token, slot) pairs are grouped by
// expert on the device (kernels/moe_dispatch.cu); then two grouped products — gate and up fused
// with SwiGLU, then down scaled by the routing weight — read only the experts some token chose;
// then each token sums its K results in order. Declared here for the fused ops that run its parts
// (ops/route_experts.h).
//
// Given the shared experts' MLP, the op can also fold it into the same two products: the shared
// intermediate is cut into S slices as wide as a routed expert's, and each slice is one more
// group that every token goes through with weight 1 (moe_dispatch.cuh's shared groups). The
// slices are blocks of the shared matrices read in place (MatrixRef's row0, col0 and ld).
#pragma once

#include "kernels/gemv.cuh"
#include "kernels/moe_dispatch.cuh"
#include "ops/exact_matmul.h"
#include "ops/fused.h"
#include "ops/util.h"
#include "ops/weight_store.h"
#include "runtime/check.h"

namespace fathom::cuda {

class MoeExpertsOp final : public Op {
 public:
  explicit MoeExpertsOp(const OpBuild& b, const SharedExpertBuilds* shared = nullptr)
      : x_(b.inputs[0]), experts_(b.inputs[1]), weights_(b.inputs[2]), out_(b.outputs[0]), x_desc_(b.desc.inputs[0]),
        attrs_(attrs_of<fathom_moe_experts_attrs>(b.desc)), w_dtype_(stored_dtype(b.desc.inputs[3].dtype)),
        gemv_rows_(b.options.gemv_max_tokens) {
    // Device tables of the experts' matrices: [E][gate, up] and [E][down].
    std::vector<gpu::MatrixRef> up, down;
    size_t i = 3;
    for (int32_t e = 0; e < attrs_.n_experts; ++e) {
      for (int m = 0; m < 3; ++m) {
        if (!b.is_constant(i))
          sdk::fail_unsupported("node '" + b.name + "': moe_experts on " FATHOM_GPU_BACKEND " needs the expert matrices bound at compile (weights)");
        (m < 2 ? up : down).push_back(store_matrix(b, i).ref);
        i += b.desc.inputs[i].layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128 ? 2 : 1;
      }
    }
    if (shared) shared_groups_ = append_shared_slices(*shared, up, down);
    bool aligned = true;
    for (const auto* table : {&up, &down}) {
      for (const gpu::MatrixRef& ref : *table) aligned = aligned && gpu::rows_start_aligned(ref);
    }
    up_table_ = static_cast<const gpu::MatrixRef*>(b.memory.upload(up.data(), up.size() * sizeof(gpu::MatrixRef)));
    down_table_ = static_cast<const gpu::MatrixRef*>(b.memory.upload(down.data(), down.size() * sizeof(gpu::MatrixRef)));
    aligned_ = aligned;

    const int64_t max_rows = b.max_rows(0);
    const int sm = b.device.sm_count();
    workspace_ = buffer_bytes(max_rows, 0) + std::max(exact_matmul_workspace(up_problem(max_rows, {}), gemv_rows_, sm),
                                                      exact_matmul_workspace(down_problem(max_rows, {}), gemv_rows_, sm));
    if (shared_groups_) {
      const int64_t rows = std::min(max_rows, kMaxFoldedRows);
      Buffers folded;
      folded.shared_groups = shared_groups_;
      workspace_ = std::max(workspace_, buffer_bytes(rows, shared_groups_) +
                                            std::max(exact_matmul_workspace(up_problem(rows, folded), gemv_rows_, sm),
                                                     exact_matmul_workspace(down_problem(rows, folded), gemv_rows_, sm)));
    }
  }

  // The tokens up to which the shared experts are folded in: the decode gemv kernel's rows, as
  // every token goes through a shared group (a routed expert typically has one or none).
  static constexpr int64_t kMaxFoldedRows = 2;

  // How many groups the shared experts make (0: not folded; see the header comment).
  int32_t shared_groups() const { return shared_groups_; }

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
    launch_grouped_products(r, t, buf, ws);
    launch_combine(r, t, buf);
  }

  // The parts of launch(), for a fused op that groups the pairs itself. With shared_groups set
  // (at most kMaxFoldedRows tokens) the shared experts are folded in: the tables and results per
  // pair take moe_dispatch.cuh's layout with shared groups, and the combine is the caller's.
  struct Buffers {
    int32_t *counts = nullptr, *offsets = nullptr, *slot = nullptr, *pair_ids = nullptr;
    float *h = nullptr, *y_pairs = nullptr;
    const float* x = nullptr;
    const int32_t* ids = nullptr;  // the chosen experts [T][K]
    const float* route_weights = nullptr;
    int32_t shared_groups = 0;
    float* pair_weights = nullptr;  // with shared groups
    int32_t* active_groups = nullptr;  // the groups with pairs, from the dispatch: the products' block rows
    int32_t active_groups_max = 0;
  };

  Buffers take_buffers(const OpRun& r, int64_t t, WorkspaceCursor& ws, bool fold_shared = false) const {
    Buffers buf;
    buf.shared_groups = fold_shared ? shared_groups_ : 0;
    const size_t groups = static_cast<size_t>(attrs_.n_experts + buf.shared_groups);
    const int64_t pairs = t * (attrs_.top_k + buf.shared_groups);
    buf.counts = ws.take<int32_t>(groups);
    buf.offsets = ws.take<int32_t>(groups);
    buf.slot = ws.take<int32_t>(static_cast<size_t>(t * attrs_.top_k));
    buf.pair_ids = ws.take<int32_t>(static_cast<size_t>(pairs));
    buf.h = ws.take<float>(static_cast<size_t>(pairs * attrs_.intermediate));
    buf.y_pairs = ws.take<float>(static_cast<size_t>(pairs * attrs_.hidden));
    if (buf.shared_groups) buf.pair_weights = ws.take<float>(static_cast<size_t>(pairs));
    buf.active_groups_max = gpu::moe_active_groups_max(t, attrs_.top_k, attrs_.n_experts, buf.shared_groups);
    buf.active_groups = ws.take<int32_t>(static_cast<size_t>(buf.active_groups_max));
    buf.x = static_cast<const float*>(r.ptr(x_));
    buf.ids = static_cast<const int32_t*>(r.ptr(experts_));
    buf.route_weights = static_cast<const float*>(r.ptr(weights_));
    return buf;
  }

  gpu::MoeDispatchArgs dispatch_args(const OpRun& r, int64_t t, const Buffers& buf) const {
    gpu::MoeDispatchArgs d{buf.ids, t, attrs_.top_k, attrs_.n_experts, buf.counts,
                           buf.offsets, buf.slot, buf.pair_ids, r.error};
    d.shared_groups = buf.shared_groups;
    d.route_weights = buf.route_weights;
    d.pair_weights = buf.pair_weights;
    d.active_groups = buf.active_groups;
    return d;
  }

  // Whether the down product of t tokens with the shared experts folded in runs on the decode
  // gemv kernel, which can end in a tail (kernels/gemv.cuh, GemvTailKind::moe_sum).
  bool down_takes_tail(int64_t t) const {
    return shared_groups_ > 0 && t >= 1 && t <= std::min({kMaxFoldedRows, gemv_rows_, gpu::kGemvStackMaxRows});
  }

  // After the dispatch: the two grouped products. With `down_tail` (down_takes_tail(t), shared
  // groups folded in), the down product's last block also does that tail's work on the pairs'
  // results; the caller fills its norm part, this op the pairs'.
  void launch_grouped_products(const OpRun& r, int64_t t, const Buffers& buf, WorkspaceCursor& ws,
                               const gpu::GemvTail* down_tail = nullptr) const {
    launch_exact_matmul(up_problem(t, buf), gemv_rows_, r, ws);
    if (!down_tail) {
      launch_exact_matmul(down_problem(t, buf), gemv_rows_, r, ws);
      return;
    }
    gpu::GemvTail tail = *down_tail;
    tail.moe = gpu::MoePairSum{buf.y_pairs, buf.ids, attrs_.top_k, buf.shared_groups, attrs_.n_experts};
    gpu::launch_gemv(down_problem(t, buf), nullptr, r.device.sm_count(), r.stream, &tail);  // grouped: no split, no workspace
    FATHOM_CUDA_CHECK_LAUNCH("moe_experts: down product with the layer's sum and norm");
  }

  // Then each token's sum (no shared groups).
  void launch_combine(const OpRun& r, int64_t t, const Buffers& buf) const {
    gpu::MoeCombineArgs c{buf.y_pairs, buf.ids, static_cast<float*>(r.ptr(out_)), t,
                          attrs_.hidden, attrs_.top_k, attrs_.n_experts};
    gpu::launch_moe_combine(c, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("moe_experts: combine");
  }

 private:
  // The workspace take_buffers takes for t tokens.
  size_t buffer_bytes(int64_t t, int32_t shared_groups) const {
    const int64_t groups = attrs_.n_experts + shared_groups, pairs = t * (attrs_.top_k + shared_groups);
    auto ints = [](int64_t n) { return WorkspaceCursor::round(static_cast<size_t>(n) * 4); };
    return 2 * ints(groups) + ints(t * attrs_.top_k) + ints(pairs) + ints(pairs * attrs_.intermediate) +
           ints(pairs * attrs_.hidden) + (shared_groups ? ints(pairs) : 0) +
           ints(gpu::moe_active_groups_max(t, attrs_.top_k, attrs_.n_experts, shared_groups));
  }

  // Appends the shared experts' slices to the tables [E][gate, up] and [E][down]; returns their
  // number, or 0 (and appends nothing) where they cannot be read as routed experts: weights not
  // bound at compile, stored otherwise, or an intermediate size that is not a multiple of a
  // routed expert's (DeepSeek's are: V3 one expert of 2048, V2-Lite two of 1408).
  int32_t append_shared_slices(const SharedExpertBuilds& s, std::vector<gpu::MatrixRef>& up,
                               std::vector<gpu::MatrixRef>& down) const {
    const int64_t inter = attrs_.intermediate, hidden = attrs_.hidden;
    for (const OpBuild* m : {&s.gate, &s.up, &s.down}) {
      if (!m->is_constant(1) || stored_dtype(m->desc.inputs[1].dtype) != w_dtype_) return 0;
    }
    const int64_t shared_inter = s.gate.desc.inputs[1].shape[0];
    const bool shapes = s.gate.desc.inputs[1].shape[1] == hidden && s.up.desc.inputs[1].shape[0] == shared_inter &&
                        s.down.desc.inputs[1].shape[0] == hidden && s.down.desc.inputs[1].shape[1] == shared_inter;
    if (!shapes || inter % 8 != 0 || shared_inter % inter != 0) return 0;
    const int64_t groups = shared_inter / inter;
    if (attrs_.n_experts + groups > gpu::kOneBlockMaxExperts) return 0;
    const StoredMatrix gate = store_matrix(s.gate, 1), up_w = store_matrix(s.up, 1), down_w = store_matrix(s.down, 1);
    const int64_t elem = static_cast<int64_t>(sdk::dtype_bytes(w_dtype_));
    auto at = [elem](const void* data, int64_t elements) { return static_cast<const std::byte*>(data) + elements * elem; };
    for (int64_t g = 0; g < groups; ++g) {
      for (const StoredMatrix* m : {&gate, &up_w}) {
        gpu::MatrixRef rows = m->ref;  // rows [g * inter, + inter) of [shared_inter][hidden]
        rows.data = at(m->ref.data, g * inter * hidden);
        rows.row0 = m->ref.row0 + g * inter;
        up.push_back(rows);
      }
      gpu::MatrixRef cols = down_w.ref;  // columns [g * inter, + inter) of [hidden][shared_inter]
      cols.data = at(down_w.ref.data, g * inter);
      cols.col0 = down_w.ref.col0 + g * inter;
      cols.ld = shared_inter;
      down.push_back(cols);
    }
    return static_cast<int32_t>(groups);
  }

  gpu::MatmulProblem grouped(int64_t t, const Buffers& buf) const {
    gpu::MatmulProblem p;
    p.w_dtype = w_dtype_;
    p.groups = attrs_.n_experts + buf.shared_groups;
    p.group_offsets = buf.offsets;
    p.group_counts = buf.counts;
    p.active_groups = buf.active_groups;
    p.active_groups_max = buf.active_groups_max;
    p.pair_ids = buf.pair_ids;
    p.max_rows = t;
    // Routed pairs per expert if routing were even, with half again as margin; every token when
    // the shared groups are in (few tokens).
    p.group_rows_hint = buf.shared_groups ? t
                                          : std::min<int64_t>(t, (3 * t * attrs_.top_k + 2 * attrs_.n_experts - 1) /
                                                                     (2 * attrs_.n_experts));
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
    p.x_row_div = attrs_.top_k + buf.shared_groups;
    p.y = buf.h;
    p.ldy = attrs_.intermediate;
    p.matrices = up_table_;
    return p;
  }

  // y_pairs[pair] = weight[pair] · (h[pair] · downᵀ)
  gpu::MatmulProblem down_problem(int64_t t, const Buffers& buf) const {
    gpu::MatmulProblem p = grouped(t, buf);
    p.epilogue = gpu::Epilogue::row_scale;
    p.row_scale = buf.shared_groups ? buf.pair_weights : buf.route_weights;
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
  int32_t shared_groups_ = 0;
  size_t workspace_ = 0;
};

}  // namespace fathom::cuda
