#include "runtime/fusion.h"

#include <cstring>

namespace fathom::cuda {

namespace {

bool same_desc(const fathom_tensor_desc& a, const fathom_tensor_desc& b) {
  if (a.dtype != b.dtype || a.layout != b.layout || a.rank != b.rank) return false;
  for (int32_t d = 0; d < a.rank; ++d) {
    if (a.shape[d] != b.shape[d]) return false;
  }
  return true;
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
    if (match.swiglu_at(n)) {
      found.push_back({FusionKind::swiglu_matmul, n, n + 2});
      n += 3;
    } else {
      ++n;
    }
  }
  return found;
}

}  // namespace fathom::cuda
