#include "runtime/fusion.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace fathom::cuda {

namespace {

bool same_desc(const fathom_tensor_desc& a, const fathom_tensor_desc& b) {
  if (a.dtype != b.dtype || a.layout != b.layout || a.rank != b.rank) return false;
  for (int32_t d = 0; d < a.rank; ++d) {
    if (a.shape[d] != b.shape[d]) return false;
  }
  return true;
}

template <typename A>
A node_attrs(const fathom_segment_node& n) {
  A a{};
  if (n.attrs) std::memcpy(&a, n.attrs, std::min<size_t>(sizeof(A), n.attrs_size));
  return a;
}

class Matcher {
 public:
  Matcher(const fathom_segment& s, const std::vector<TensorInfo>& tensors) : s_(s), tensors_(tensors), readers_(tensors.size(), 0) {
    for (uint32_t n = 0; n < s.n_nodes; ++n) {
      for (uint32_t i = 0; i < s.nodes[n].n_inputs; ++i) {
        if (s.nodes[n].inputs[i] < readers_.size()) ++readers_[s.nodes[n].inputs[i]];
      }
    }
  }

  // matmul, matmul, silu_mul at nodes n, n+1, n+2 (see FusionKind::swiglu_matmul).
  bool swiglu_at(uint32_t n) const {
    if (n + 2 >= s_.n_nodes) return false;
    const fathom_segment_node &gate = s_.nodes[n], &up = s_.nodes[n + 1], &act = s_.nodes[n + 2];
    if (gate.op != FATHOM_OP_MATMUL || up.op != FATHOM_OP_MATMUL || act.op != FATHOM_OP_SILU_MUL) return false;
    if (gate.n_inputs != up.n_inputs || gate.n_inputs < 2 || gate.n_outputs != 1 || up.n_outputs != 1) return false;
    if (act.n_inputs != 2 || act.n_outputs != 1) return false;
    if (gate.inputs[0] != up.inputs[0]) return false;  // the same activations
    if (act.inputs[0] != gate.outputs[0] || act.inputs[1] != up.outputs[0]) return false;
    for (uint32_t t : {gate.outputs[0], up.outputs[0]}) {
      if (!private_intermediate(t)) return false;
    }
    // Both weights stored alike (dtype, shape, block scales), all activations f32.
    for (uint32_t i = 1; i < gate.n_inputs; ++i) {
      if (!same_desc(desc(gate.inputs[i]), desc(up.inputs[i]))) return false;
    }
    for (uint32_t t : {gate.inputs[0], gate.outputs[0], up.outputs[0], act.outputs[0]}) {
      if (desc(t).dtype != FATHOM_DTYPE_F32) return false;
    }
    return true;
  }

  // add, rms_norm at nodes n, n+1 (see FusionKind::add_rms_norm).
  bool add_rms_norm_at(uint32_t n) const {
    if (n + 1 >= s_.n_nodes) return false;
    const fathom_segment_node &add = s_.nodes[n], &norm = s_.nodes[n + 1];
    if (add.op != FATHOM_OP_ADD || norm.op != FATHOM_OP_RMS_NORM) return false;
    if (add.n_inputs != 2 || add.n_outputs != 1 || norm.n_inputs != 2 || norm.n_outputs != 1) return false;
    if (norm.inputs[0] != add.outputs[0]) return false;
    const fathom_tensor_desc& h = desc(add.outputs[0]);
    if (h.rank != 2) return false;
    for (uint32_t t : {add.inputs[0], add.inputs[1], add.outputs[0]}) {
      if (!same_desc(desc(t), h) || desc(t).dtype != FATHOM_DTYPE_F32) return false;
    }
    return true;
  }

  // matmul whose product only the add_rms_norm run at n+1 reads, as one of its two operands (see
  // FusionKind::matmul_add_rms_norm).
  bool matmul_add_rms_norm_at(uint32_t n) const {
    if (!add_rms_norm_at(n + 1)) return false;
    const fathom_segment_node &matmul = s_.nodes[n], &add = s_.nodes[n + 1];
    if (matmul.op != FATHOM_OP_MATMUL || matmul.n_inputs < 2 || matmul.n_outputs != 1) return false;
    const uint32_t y = matmul.outputs[0];
    if (!private_intermediate(y) || (add.inputs[0] == y) == (add.inputs[1] == y)) return false;
    const fathom_tensor_desc &x = desc(matmul.inputs[0]), &w = desc(matmul.inputs[1]);
    return x.dtype == FATHOM_DTYPE_F32 && x.rank == 2 && w.rank == 2 && w.shape[1] == x.shape[1];
  }

  // add whose sum only the add_rms_norm run at n+1 reads (see FusionKind::add_add_rms_norm).
  bool add_add_rms_norm_at(uint32_t n) const {
    if (!add_rms_norm_at(n + 1)) return false;
    const fathom_segment_node &inner = s_.nodes[n], &add = s_.nodes[n + 1];
    if (inner.op != FATHOM_OP_ADD || inner.n_inputs != 2 || inner.n_outputs != 1) return false;
    const uint32_t f = inner.outputs[0];
    if (!private_intermediate(f) || (add.inputs[0] == f) == (add.inputs[1] == f)) return false;
    for (uint32_t t : {inner.inputs[0], inner.inputs[1], f}) {
      if (!same_desc(desc(t), desc(add.outputs[0]))) return false;
    }
    return true;
  }

  // slice, then rms_norm or rope_yarn of the slice at nodes n, n+1: the kind, or nothing.
  std::optional<FusionKind> sliced_at(uint32_t n) const {
    if (n + 1 >= s_.n_nodes) return std::nullopt;
    const fathom_segment_node &slice = s_.nodes[n], &next = s_.nodes[n + 1];
    if (slice.op != FATHOM_OP_SLICE || slice.n_inputs != 1 || slice.n_outputs != 1) return std::nullopt;
    if (next.op != FATHOM_OP_RMS_NORM && next.op != FATHOM_OP_ROPE_YARN) return std::nullopt;
    if (next.n_inputs != 2 || next.inputs[0] != slice.outputs[0] || !private_intermediate(slice.outputs[0])) return std::nullopt;
    const fathom_tensor_desc &src = desc(slice.inputs[0]), &t = desc(slice.outputs[0]);
    if (src.rank != 2 || t.rank != 2 || src.dtype != FATHOM_DTYPE_F32 || t.dtype != FATHOM_DTYPE_F32) return std::nullopt;
    return next.op == FATHOM_OP_RMS_NORM ? FusionKind::sliced_rms_norm : FusionKind::sliced_rope;
  }

  // rope, slice, rms_norm, slice, rope, mla_attention at nodes n .. n+5 (see
  // FusionKind::mla_prologue), in the DeepSeek graph builder's order.
  bool mla_prologue_at(uint32_t n) const {
    if (n + 5 >= s_.n_nodes) return false;
    const fathom_segment_node* k = s_.nodes + n;  // k[0] .. k[5]
    const uint32_t ops[] = {FATHOM_OP_ROPE_YARN, FATHOM_OP_SLICE, FATHOM_OP_RMS_NORM, FATHOM_OP_SLICE, FATHOM_OP_ROPE_YARN,
                            FATHOM_OP_MLA_ATTENTION};
    const uint32_t n_inputs[] = {2, 1, 2, 1, 2, 0};
    for (int i = 0; i < 6; ++i) {
      if (k[i].op != ops[i] || k[i].n_outputs != 1 || (n_inputs[i] && k[i].n_inputs != n_inputs[i])) return false;
    }
    const fathom_segment_node &q_rope = k[0], &l_slice = k[1], &norm = k[2], &k_slice = k[3], &k_rope = k[4], &mla = k[5];
    if (mla.n_inputs < 7) return false;
    // The chain: q_rope -> mla's q, slice -> norm -> mla's latent, slice -> rope -> mla's k_pe,
    // both slices of one source, one positions tensor for the three.
    if (mla.inputs[0] != q_rope.outputs[0] || norm.inputs[0] != l_slice.outputs[0] || mla.inputs[1] != norm.outputs[0] ||
        k_rope.inputs[0] != k_slice.outputs[0] || mla.inputs[2] != k_rope.outputs[0])
      return false;
    if (l_slice.inputs[0] != k_slice.inputs[0] || q_rope.inputs[1] != mla.inputs[3] || k_rope.inputs[1] != mla.inputs[3]) return false;
    for (uint32_t t : {q_rope.outputs[0], l_slice.outputs[0], norm.outputs[0], k_slice.outputs[0], k_rope.outputs[0]}) {
      if (!private_intermediate(t) || desc(t).dtype != FATHOM_DTYPE_F32) return false;
    }
    for (uint32_t t : {q_rope.inputs[0], l_slice.inputs[0]}) {
      if (desc(t).dtype != FATHOM_DTYPE_F32 || desc(t).rank != 2) return false;
    }
    // The ropes are those of MLA's layout: q's last dr of each head, all of k_pe.
    const auto m = node_attrs<fathom_mla_attrs>(mla);
    const auto qa = node_attrs<fathom_rope_attrs>(q_rope), ka = node_attrs<fathom_rope_attrs>(k_rope);
    const auto ls = node_attrs<fathom_slice_attrs>(l_slice), ks = node_attrs<fathom_slice_attrs>(k_slice);
    if (qa.head_dim != m.qk_nope_dim + m.qk_rope_dim || qa.rope_offset != m.qk_nope_dim || qa.rope_dim != m.qk_rope_dim) return false;
    if (ka.head_dim != m.qk_rope_dim || ka.rope_offset != 0 || ka.rope_dim != m.qk_rope_dim) return false;
    if (desc(q_rope.inputs[0]).shape[1] != int64_t{m.n_heads} * qa.head_dim) return false;
    return ls.length == m.kv_lora_rank && ks.length == m.qk_rope_dim && m.qk_rope_dim % 2 == 0;
  }

  // moe_route, moe_experts at nodes n, n+1 (see FusionKind::route_experts).
  bool route_experts_at(uint32_t n) const {
    if (n + 1 >= s_.n_nodes) return false;
    const fathom_segment_node &route = s_.nodes[n], &experts = s_.nodes[n + 1];
    if (route.op != FATHOM_OP_MOE_ROUTE || experts.op != FATHOM_OP_MOE_EXPERTS) return false;
    if (route.n_outputs != 2 || route.n_inputs < 2 || experts.n_inputs < 4 || experts.n_outputs != 1) return false;
    if (experts.inputs[0] != route.inputs[0] || experts.inputs[1] != route.outputs[0] || experts.inputs[2] != route.outputs[1])
      return false;
    return private_intermediate(route.outputs[0]) && private_intermediate(route.outputs[1]) &&
           node_attrs<fathom_moe_route_attrs>(route).top_k == node_attrs<fathom_moe_experts_attrs>(experts).top_k;
  }

  // route_experts, swiglu_matmul, matmul, add_add_rms_norm runs at nodes n .. n+8 (see
  // FusionKind::moe_block), in the DeepSeek graph builder's order.
  bool moe_block_at(uint32_t n) const {
    if (n + 8 >= s_.n_nodes || !route_experts_at(n) || !swiglu_at(n + 2) || !add_add_rms_norm_at(n + 6)) return false;
    const fathom_segment_node &experts = s_.nodes[n + 1], &gate = s_.nodes[n + 2], &act = s_.nodes[n + 4];
    const fathom_segment_node &down = s_.nodes[n + 5], &inner = s_.nodes[n + 6];
    if (down.op != FATHOM_OP_MATMUL || down.n_inputs < 2 || down.n_outputs != 1 || down.inputs[0] != act.outputs[0]) return false;
    if (gate.inputs[0] != experts.inputs[0]) return false;  // the shared experts read the routed experts' x
    const uint32_t routed = experts.outputs[0], shared = down.outputs[0];
    if (!((inner.inputs[0] == routed && inner.inputs[1] == shared) || (inner.inputs[0] == shared && inner.inputs[1] == routed)))
      return false;
    return private_intermediate(act.outputs[0]) && private_intermediate(routed) && private_intermediate(shared) &&
           desc(routed).dtype == FATHOM_DTYPE_F32;
  }

  // matmul, matmul of the same x at nodes n, n+1 (see FusionKind::stacked_matmul).
  bool stacked_at(uint32_t n) const {
    if (n + 1 >= s_.n_nodes) return false;
    const fathom_segment_node &a = s_.nodes[n], &b = s_.nodes[n + 1];
    if (a.op != FATHOM_OP_MATMUL || b.op != FATHOM_OP_MATMUL || a.n_inputs != b.n_inputs || a.n_inputs < 2) return false;
    if (a.n_outputs != 1 || b.n_outputs != 1 || a.inputs[0] != b.inputs[0]) return false;
    const fathom_tensor_desc &wa = desc(a.inputs[1]), &wb = desc(b.inputs[1]);
    if (wa.dtype != wb.dtype || wa.layout != wb.layout || wa.rank != 2 || wb.rank != 2 || wa.shape[1] != wb.shape[1]) return false;
    for (uint32_t t : {a.inputs[0], a.outputs[0], b.outputs[0]}) {
      if (desc(t).dtype != FATHOM_DTYPE_F32) return false;
    }
    return true;
  }

 private:
  const fathom_tensor_desc& desc(uint32_t t) const { return tensors_[t].desc; }

  // An internal tensor with one reader: a fused op may leave it unwritten.
  bool private_intermediate(uint32_t t) const {
    return t < tensors_.size() && tensors_[t].role == FATHOM_ROLE_INTERNAL && readers_[t] == 1;
  }

  const fathom_segment& s_;
  const std::vector<TensorInfo>& tensors_;
  std::vector<uint32_t> readers_;
};

}  // namespace

std::vector<Fusion> find_fusions(const fathom_segment& segment, const std::vector<TensorInfo>& tensors) {
  std::vector<Fusion> found;
  const Matcher match(segment, tensors);
  for (uint32_t n = 0; n < segment.n_nodes;) {
    if (match.moe_block_at(n)) {
      found.push_back({FusionKind::moe_block, n, n + 8});
      n += 9;
    } else if (match.mla_prologue_at(n)) {
      found.push_back({FusionKind::mla_prologue, n, n + 5});
      n += 6;
    } else if (match.swiglu_at(n)) {
      found.push_back({FusionKind::swiglu_matmul, n, n + 2});
      n += 3;
    } else if (match.matmul_add_rms_norm_at(n)) {
      found.push_back({FusionKind::matmul_add_rms_norm, n, n + 2});
      n += 3;
    } else if (match.add_add_rms_norm_at(n)) {
      found.push_back({FusionKind::add_add_rms_norm, n, n + 2});
      n += 3;
    } else if (match.add_rms_norm_at(n)) {
      found.push_back({FusionKind::add_rms_norm, n, n + 1});
      n += 2;
    } else if (const std::optional<FusionKind> kind = match.sliced_at(n)) {
      found.push_back({*kind, n, n + 1});
      n += 2;
    } else if (match.route_experts_at(n)) {
      found.push_back({FusionKind::route_experts, n, n + 1});
      n += 2;
    } else if (match.stacked_at(n)) {
      found.push_back({FusionKind::stacked_matmul, n, n + 1});
      n += 2;
    } else {
      ++n;
    }
  }
  return found;
}

}  // namespace fathom::cuda
