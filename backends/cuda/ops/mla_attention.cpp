// mla_attention (kernels/mla_*.cu). Both forms of the op (naive and absorbed) compute the same
// function; this backend runs the absorbed form for both, reading kv_b as stored. With a
// prologue (FusionKind::mla_prologue) it also does the rope of q, the latent's norm and k_pe's
// rope, the nodes before it.
#include <optional>

#include "fathom/sdk/yarn.hpp"
#include "kernels/mla_attention.cuh"
#include "ops/fused.h"
#include "ops/registry.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

// What the op needs of the prologue's nodes, resolved once: the kernels' arguments but for the
// two tensors, whose addresses come at run().
struct Prologue {
  uint32_t q_raw = 0;  // the q rope's input
  uint32_t kva = 0;    // the slices' source
  uint32_t norm_w = 0;
  gpu::MlaPrologue args;
};

const float* upload_inverse_frequencies(const OpBuild& rope) {
  const std::vector<float> inv_freq = sdk::yarn_inverse_frequencies(attrs_of<fathom_rope_attrs>(rope.desc));
  return static_cast<const float*>(rope.memory.upload(inv_freq.data(), inv_freq.size() * sizeof(float)));
}

class MlaOp final : public Op {
 public:
  explicit MlaOp(const OpBuild& b, std::optional<Prologue> prologue = std::nullopt)
      : sm_count_(b.device.sm_count()), prologue_(prologue) {
    const auto a = attrs_of<fathom_mla_attrs>(b.desc);
    scaled_ = b.desc.inputs[5].layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128;
    const fathom_tensor_desc& cache = b.desc.inputs[scaled_ ? 7 : 6];
    shape_ = gpu::MlaShape{a.n_heads, a.qk_nope_dim, a.qk_rope_dim, a.v_dim, a.kv_lora_rank,
                           cache.shape[0], cache.shape[1], a.softmax_scale};
    for (int i = 0; i < 5; ++i) in_[i] = b.inputs[static_cast<size_t>(i)];
    q_desc_ = b.desc.inputs[0];
    kv_b_dtype_ = b.desc.inputs[5].dtype;
    kv_b_ = MatrixInput::at(b, 5);
    cache_ = b.inputs[scaled_ ? 7 : 6];
    cache_dtype_ = cache.dtype;
    out_ = b.outputs[0];
    workspace_ = WorkspaceCursor::round(floats(b.max_rows(0)) * sizeof(float));
  }

  size_t workspace_bytes() const override { return workspace_; }

  void launch(const OpRun& r) override {
    const int64_t t = rows(q_desc_, r.tokens);
    if (t == 0) return;
    gpu::MlaArgs a{};
    a.shape = shape_;
    a.tokens = t;
    a.q = static_cast<const float*>(r.ptr(prologue_ ? prologue_->q_raw : in_[0]));
    a.latent = static_cast<const float*>(r.ptr(in_[1]));
    a.k_pe = static_cast<const float*>(r.ptr(in_[2]));
    a.positions = static_cast<const int32_t*>(r.ptr(in_[3]));
    a.slots = static_cast<const int32_t*>(r.ptr(in_[4]));
    a.kv_b_dtype = kv_b_dtype_;
    a.kv_b = kv_b_.ref(r);
    a.cache = r.ptr(cache_);
    a.cache_dtype = cache_dtype_;
    a.out = static_cast<float*>(r.ptr(out_));
    a.error = r.error;
    a.splits = gpu::mla_splits(shape_, t, sm_count_);
    WorkspaceCursor ws(r.workspace, r.workspace_bytes);
    a.workspace = ws.take<float>(floats(t));
    if (prologue_) {
      a.prologue = prologue_->args;
      a.prologue.kva = static_cast<const float*>(r.ptr(prologue_->kva));
      a.prologue.norm_w = r.ptr(prologue_->norm_w);
    }
    gpu::launch_mla_attention(a, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("mla_attention");
  }

 private:
  size_t floats(int64_t t) const {
    return gpu::mla_workspace_floats(shape_, t, sm_count_) + (prologue_ ? gpu::mla_prologue_workspace_floats(shape_, t) : 0);
  }

  int sm_count_;
  std::optional<Prologue> prologue_;
  bool scaled_ = false;
  gpu::MlaShape shape_{};
  uint32_t in_[5] = {};
  fathom_tensor_desc q_desc_{};
  uint32_t kv_b_dtype_ = 0;
  MatrixInput kv_b_;
  uint32_t cache_ = 0;
  uint32_t cache_dtype_ = 0;
  uint32_t out_ = 0;
  size_t workspace_ = 0;
};

}  // namespace

fathom_op_support support_mla_attention(const fathom_op_desc& d) {
  const auto a = attrs_of<fathom_mla_attrs>(d);
  for (int i : {0, 1, 2}) {
    if (!is_f32(d.inputs[i])) return unsupported("mla_attention on " FATHOM_GPU_BACKEND " takes f32 q, latent and k_pe");
  }
  if (!is_f32(d.outputs[0])) return unsupported("mla_attention on " FATHOM_GPU_BACKEND " gives an f32 output");
  if (!sdk::is_float_dtype(d.inputs[5].dtype)) return unsupported("mla_attention kv_b must be float");
  const bool scaled = d.inputs[5].layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128;
  const uint32_t cache = d.inputs[scaled ? 7 : 6].dtype;
  if (cache != FATHOM_DTYPE_F32 && cache != FATHOM_DTYPE_BF16) return unsupported("mla_attention on " FATHOM_GPU_BACKEND " keeps an f32 or bf16 cache");
  if (a.qk_nope_dim > gpu::kMlaMaxNope) return unsupported("mla_attention on " FATHOM_GPU_BACKEND ": qk_nope_dim above 512");
  if (a.kv_lora_rank + a.qk_rope_dim > gpu::kMlaMaxRow) return unsupported("mla_attention on " FATHOM_GPU_BACKEND ": kv_lora_rank + qk_rope_dim above 768");
  return preferred();
}

std::unique_ptr<Op> make_mla_attention(const OpBuild& b) { return std::make_unique<MlaOp>(b); }

std::unique_ptr<Op> make_mla_with_prologue(const OpBuild& mla, const MlaPrologueBuilds& parts) {
  Prologue p;
  p.q_raw = parts.q_rope.inputs[0];
  p.kva = parts.latent.tensor;  // == parts.k_pe.tensor (the fusion's condition)
  p.norm_w = parts.latent_norm.inputs[1];
  gpu::MlaPrologue& g = p.args;
  g.kva_ld = parts.latent.ld;
  g.latent_begin = parts.latent.begin;
  g.k_pe_begin = parts.k_pe.begin;
  g.norm_w_dtype = parts.latent_norm.desc.inputs[1].dtype;
  g.eps = attrs_of<fathom_rms_norm_attrs>(parts.latent_norm.desc).eps;
  g.q_inv_freq = upload_inverse_frequencies(parts.q_rope);
  g.k_inv_freq = upload_inverse_frequencies(parts.k_rope);
  g.q_amplitude = attrs_of<fathom_rope_attrs>(parts.q_rope.desc).amplitude;
  g.k_amplitude = attrs_of<fathom_rope_attrs>(parts.k_rope.desc).amplitude;
  return std::make_unique<MlaOp>(mla, p);
}

}  // namespace fathom::cuda
