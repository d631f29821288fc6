// mla_attention (kernels/mla_*.cu). Both forms of the op (naive and absorbed) compute the same
// function; this backend runs the absorbed form for both, reading kv_b as stored.
#include "kernels/mla_attention.cuh"
#include "ops/registry.h"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

class MlaOp final : public Op {
 public:
  explicit MlaOp(const OpBuild& b) : sm_count_(b.device.sm_count()) {
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
    workspace_ = WorkspaceCursor::round(gpu::mla_workspace_floats(shape_, b.max_rows(0), sm_count_) * sizeof(float));
  }

  size_t workspace_bytes() const override { return workspace_; }

  void launch(const OpRun& r) override {
    const int64_t t = rows(q_desc_, r.tokens);
    if (t == 0) return;
    gpu::MlaArgs a{};
    a.shape = shape_;
    a.tokens = t;
    a.q = static_cast<const float*>(r.ptr(in_[0]));
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
    a.workspace = ws.take<float>(gpu::mla_workspace_floats(shape_, t, sm_count_));
    gpu::launch_mla_attention(a, r.stream);
    FATHOM_CUDA_CHECK_LAUNCH("mla_attention");
  }

 private:
  int sm_count_;
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

}  // namespace fathom::cuda
