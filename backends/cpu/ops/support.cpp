// Which dtypes each op accepts on this backend. Activations are f32 (what the DeepSeek graph
// uses); weights may be any float format, dense or FP8 with block scales, and the matrices of
// products and the embedding also GGUF's blocks (every FATHOM_LAYOUT_GGML_*). Anything else is
// declined with a reason, and the fallback chain sends it to the next backend.
#include "fathom/sdk/tensor.hpp"
#include "matmul/weight_view.h"
#include "ops/ops.h"

namespace fathom::cpu {

namespace {

constexpr fathom_op_support kYes{FATHOM_SUPPORT_YES, 0, nullptr};

fathom_op_support no(const char* why) { return {FATHOM_SUPPORT_NO, 0, why}; }

bool f32(const fathom_tensor_desc& t) { return t.dtype == FATHOM_DTYPE_F32 && t.layout == FATHOM_LAYOUT_DENSE; }
bool float_any(const fathom_tensor_desc& t) { return format_of(t.dtype).has_value(); }
bool dense_float(const fathom_tensor_desc& t) { return float_any(t) && t.layout == FATHOM_LAYOUT_DENSE; }

bool all_f32(const fathom_tensor_desc* t, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    if (!f32(t[i])) return false;
  }
  return true;
}

// A weight matrix: any float format, dense or (FP8) block-scaled.
bool weight_ok(const fathom_tensor_desc& w) {
  return float_any(w) && (w.layout == FATHOM_LAYOUT_DENSE || w.layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128);
}

// A matrix of a product: those, or GGUF's blocks (unpacked on load into a format holding the same
// weights: weight_view.h, unpacked_format).
bool product_weight_ok(const fathom_tensor_desc& w) { return weight_ok(w) || sdk::is_ggml_layout(w.layout); }

}  // namespace

fathom_op_support op_support(const fathom_op_desc& op) {
  const fathom_tensor_desc* in = op.inputs;
  const fathom_tensor_desc* out = op.outputs;
  switch (op.op) {
    case FATHOM_OP_EMBEDDING:
      if (!(dense_float(in[1]) || sdk::is_ggml_layout(in[1].layout)) || !f32(out[0]))
        return no("cpu embedding: a dense float (or GGUF-block) table and an f32 output");
      return kYes;
    case FATHOM_OP_RMS_NORM:
      if (!f32(in[0]) || !dense_float(in[1]) || !f32(out[0])) return no("cpu rms_norm: f32 x and output, float weight");
      return kYes;
    case FATHOM_OP_MATMUL:
      if (!f32(in[0]) || !f32(out[0])) return no("cpu matmul: f32 activations and output");
      if (!product_weight_ok(in[1])) return no("cpu matmul: float or GGUF-block weights");
      return kYes;
    case FATHOM_OP_ADD:
    case FATHOM_OP_SILU_MUL:
      if (!all_f32(in, 2) || !f32(out[0])) return no("cpu element-wise ops compute on f32 tensors");
      return kYes;
    case FATHOM_OP_ROPE_YARN:
      if (!f32(in[0]) || !f32(out[0])) return no("cpu rope_yarn rotates f32 tensors");
      return kYes;
    case FATHOM_OP_MLA_ATTENTION: {
      const bool scaled = in[5].layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128;
      const fathom_tensor_desc& cache = in[scaled ? 7 : 6];
      if (!all_f32(in, 3) || !f32(out[0])) return no("cpu mla_attention: f32 q, latent, k_pe and output");
      if (!weight_ok(in[5])) return no("cpu mla_attention: float kv_b");
      if (cache.layout != FATHOM_LAYOUT_DENSE || (cache.dtype != FATHOM_DTYPE_F32 && cache.dtype != FATHOM_DTYPE_BF16 &&
                                                  cache.dtype != FATHOM_DTYPE_F16))
        return no("cpu mla_attention: the cache must be f32, bf16 or f16");
      return kYes;
    }
    case FATHOM_OP_MOE_ROUTE:
      if (!f32(in[0])) return no("cpu moe_route: f32 x");
      if (!dense_float(in[1])) return no("cpu moe_route: a dense float gate (no block scales)");
      return kYes;
    case FATHOM_OP_MOE_EXPERTS:
      if (!f32(in[0]) || !f32(out[0])) return no("cpu moe_experts: f32 x and output");
      for (uint32_t i = 3; i < op.n_inputs; ++i) {
        if (!product_weight_ok(in[i])) return no("cpu moe_experts: float or GGUF-block expert matrices");
      }
      return kYes;
    case FATHOM_OP_SLICE:
    case FATHOM_OP_CONCAT:
      for (uint32_t i = 0; i < op.n_inputs; ++i) {
        if (in[i].dtype != out[0].dtype || in[i].layout != FATHOM_LAYOUT_DENSE)
          return no("cpu slice/concat copy dense tensors of one dtype");
      }
      if (out[0].layout != FATHOM_LAYOUT_DENSE) return no("cpu slice/concat copy dense tensors of one dtype");
      return kYes;
    case FATHOM_OP_CONVERT:
      if (!dense_float(in[0]) || !dense_float(out[0])) return no("cpu convert: between dense float dtypes");
      return kYes;
    default:
      return no("not implemented by the cpu backend");
  }
}

}  // namespace fathom::cpu
