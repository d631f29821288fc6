// Structural checks of an op signature (arity, ranks, shapes, layouts), shared by every
// backend so that "is this a well-formed matmul?" has one answer. Dtype support is each
// backend's own business and is not checked here.
#pragma once

#include <cstdint>
#include <cstring>

#include "fathom/plugin_api.h"
#include "fathom/sdk/tensor.hpp"

namespace fathom::sdk {

namespace detail {
inline bool same_shape(const fathom_tensor_desc& a, const fathom_tensor_desc& b) {
  if (a.rank != b.rank) return false;
  for (int d = 0; d < a.rank; ++d) {
    if (a.shape[d] != b.shape[d]) return false;
  }
  return true;
}
inline bool is_dense(const fathom_tensor_desc& t) { return t.layout == FATHOM_LAYOUT_DENSE; }
// A weight in GGUF blocks: U8, 2-D, rows of whole blocks.
inline bool ggml_weight(const fathom_tensor_desc& t) {
  return is_ggml_layout(t.layout) && t.dtype == FATHOM_DTYPE_U8 && t.rank == 2 && t.shape[1] % ggml_block_weights(t.layout) == 0;
}
inline bool valid_desc(const fathom_tensor_desc& t) {
  if (t.rank < 0 || t.rank > FATHOM_MAX_RANK) return false;
  if (t.dtype < FATHOM_DTYPE_F32 || t.dtype > FATHOM_DTYPE_U8) return false;
  for (int d = 0; d < t.rank; ++d) {
    if (t.shape[d] < 0 && !(d == 0 && t.shape[d] == FATHOM_DIM_TOKENS)) return false;
  }
  return true;
}
}  // namespace detail

// Returns nullptr when `op` is well-formed, otherwise a static string saying why not.
inline const char* check_signature(const fathom_op_desc& op) {
  using detail::is_dense;
  using detail::same_shape;
  for (uint32_t i = 0; i < op.n_inputs; ++i) {
    if (!detail::valid_desc(op.inputs[i])) return "an input descriptor has a bad rank, dtype or extent";
  }
  for (uint32_t i = 0; i < op.n_outputs; ++i) {
    if (!detail::valid_desc(op.outputs[i])) return "an output descriptor has a bad rank, dtype or extent";
  }
  const fathom_tensor_desc* in = op.inputs;
  const fathom_tensor_desc* out = op.outputs;
  switch (op.op) {
    case FATHOM_OP_EMBEDDING:
      if (op.n_inputs != 2 || op.n_outputs != 1) return "embedding takes ids and table, gives one output";
      if (in[0].rank != 1 || in[0].dtype != FATHOM_DTYPE_I32) return "embedding ids must be i32 [T]";
      if (in[1].rank != 2 || !(is_dense(in[1]) || detail::ggml_weight(in[1])))
        return "embedding table must be dense [V, D] (or GGUF blocks of U8 with D a multiple of 32)";
      if (out[0].rank != 2 || out[0].shape[0] != in[0].shape[0] || out[0].shape[1] != in[1].shape[1])
        return "embedding output must be [T, D]";
      return nullptr;
    case FATHOM_OP_RMS_NORM:
      if (op.n_inputs != 2 || op.n_outputs != 1) return "rms_norm takes x and w, gives one output";
      if (op.attrs == nullptr || op.attrs_size < sizeof(fathom_rms_norm_attrs)) return "rms_norm needs fathom_rms_norm_attrs";
      if (in[0].rank != 2 || in[1].rank != 1 || in[1].shape[0] != in[0].shape[1]) return "rms_norm wants x [T, D] and w [D]";
      if (!same_shape(in[0], out[0])) return "rms_norm output must have the shape of x";
      return nullptr;
    case FATHOM_OP_MATMUL: {
      if (op.n_outputs != 1 || op.n_inputs < 2) return "matmul takes x and W (and S), gives one output";
      const fathom_tensor_desc& x = in[0];
      const fathom_tensor_desc& w = in[1];
      if (x.rank != 2 || w.rank != 2 || x.shape[1] != w.shape[1]) return "matmul wants x [T, K] and W [N, K]";
      if (out[0].rank != 2 || out[0].shape[0] != x.shape[0] || out[0].shape[1] != w.shape[0])
        return "matmul output must be [T, N]";
      if (w.layout == FATHOM_LAYOUT_DENSE) return op.n_inputs == 2 ? nullptr : "dense matmul takes exactly two inputs";
      if (is_ggml_layout(w.layout)) {
        if (!detail::ggml_weight(w)) return "GGUF-block weights must be U8 [N, K] with K a multiple of 32";
        return op.n_inputs == 2 ? nullptr : "a GGUF-block matmul takes exactly two inputs";
      }
      if (w.layout != FATHOM_LAYOUT_BLOCK_SCALED_128x128) return "unknown weight layout";
      if (op.n_inputs != 3) return "a block-scaled matmul takes x, W and its scales S";
      if (w.dtype != FATHOM_DTYPE_F8_E4M3FN && w.dtype != FATHOM_DTYPE_F8_E5M2) return "block scaling is for FP8 weights";
      const fathom_tensor_desc& s = in[2];
      if (s.dtype != FATHOM_DTYPE_F32 || s.rank != 2 || s.shape[0] != ceil_div(w.shape[0], 128) ||
          s.shape[1] != ceil_div(w.shape[1], 128))
        return "block scales must be f32 [ceil(N/128), ceil(K/128)]";
      return nullptr;
    }
    case FATHOM_OP_ADD:
    case FATHOM_OP_SILU_MUL:
      if (op.n_inputs != 2 || op.n_outputs != 1) return "this element-wise op takes two inputs, gives one output";
      if (!same_shape(in[0], in[1]) || !same_shape(in[0], out[0])) return "element-wise inputs and output must share one shape";
      if (!is_dense(in[0]) || !is_dense(in[1])) return "element-wise ops take dense tensors";
      return nullptr;
    case FATHOM_OP_SLICE: {
      if (op.n_inputs != 1 || op.n_outputs != 1) return "slice takes one input, gives one output";
      if (op.attrs == nullptr || op.attrs_size < sizeof(fathom_slice_attrs)) return "slice needs fathom_slice_attrs";
      fathom_slice_attrs a;
      std::memcpy(&a, op.attrs, sizeof a);
      if (in[0].rank != 2 || out[0].rank != 2 || out[0].shape[0] != in[0].shape[0]) return "slice wants [T, F] → [T, length]";
      if (a.begin < 0 || a.length < 0 || a.begin + a.length > in[0].shape[1] || out[0].shape[1] != a.length)
        return "slice range outside the input";
      return nullptr;
    }
    case FATHOM_OP_CONCAT:
      if (op.n_inputs != 2 || op.n_outputs != 1) return "concat takes two inputs, gives one output";
      if (in[0].rank != 2 || in[1].rank != 2 || out[0].rank != 2 || in[0].shape[0] != in[1].shape[0] ||
          out[0].shape[0] != in[0].shape[0] || out[0].shape[1] != in[0].shape[1] + in[1].shape[1])
        return "concat wants [T, A], [T, B] → [T, A + B]";
      return nullptr;
    case FATHOM_OP_CONVERT:
      if (op.n_inputs != 1 || op.n_outputs != 1 || !same_shape(in[0], out[0])) return "convert keeps the shape";
      return nullptr;
    case FATHOM_OP_ROPE_YARN: {
      if (op.n_inputs != 2 || op.n_outputs != 1) return "rope_yarn takes x and positions, gives one output";
      if (op.attrs == nullptr || op.attrs_size < sizeof(fathom_rope_attrs)) return "rope_yarn needs fathom_rope_attrs";
      fathom_rope_attrs a;
      std::memcpy(&a, op.attrs, sizeof a);
      if (in[0].rank != 2 || !same_shape(in[0], out[0])) return "rope_yarn wants x [T, H·head_dim] and an output like x";
      if (in[1].rank != 1 || in[1].dtype != FATHOM_DTYPE_I32 || in[1].shape[0] != in[0].shape[0])
        return "rope_yarn positions must be i32 [T]";
      if (a.head_dim <= 0 || in[0].shape[1] % a.head_dim != 0) return "rope_yarn: the row is not a whole number of heads";
      if (a.rope_dim <= 0 || a.rope_dim % 2 != 0 || a.rope_offset < 0 || a.rope_offset + a.rope_dim > a.head_dim)
        return "rope_yarn: the rotated range must be an even-sized slice of the head";
      if (!(a.theta > 0)) return "rope_yarn: theta must be positive";
      return nullptr;
    }
    case FATHOM_OP_MLA_ATTENTION: {
      if (op.attrs == nullptr || op.attrs_size < sizeof(fathom_mla_attrs)) return "mla_attention needs fathom_mla_attrs";
      fathom_mla_attrs a;
      std::memcpy(&a, op.attrs, sizeof a);
      if (a.n_heads <= 0 || a.qk_nope_dim <= 0 || a.qk_rope_dim <= 0 || a.v_dim <= 0 || a.kv_lora_rank <= 0)
        return "mla_attention: dimensions must be positive";
      const bool scaled = op.n_inputs > 5 && in[5].layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128;
      if (op.n_inputs != (scaled ? 8u : 7u) || op.n_outputs != 1)
        return "mla_attention takes q, latent, k_pe, positions, slots, kv_b (+ scales), cache";
      const int64_t h = a.n_heads, dn = a.qk_nope_dim, dr = a.qk_rope_dim, dv = a.v_dim, c = a.kv_lora_rank;
      const fathom_tensor_desc& cache = in[scaled ? 7 : 6];
      if (in[0].rank != 2 || in[0].shape[1] != h * (dn + dr)) return "mla_attention q must be [T, H·(dn+dr)]";
      if (in[1].rank != 2 || in[1].shape[1] != c || in[1].shape[0] != in[0].shape[0]) return "mla_attention latent must be [T, C]";
      if (in[2].rank != 2 || in[2].shape[1] != dr || in[2].shape[0] != in[0].shape[0]) return "mla_attention k_pe must be [T, dr]";
      for (int i = 3; i <= 4; ++i) {
        if (in[i].rank != 1 || in[i].dtype != FATHOM_DTYPE_I32 || in[i].shape[0] != in[0].shape[0])
          return "mla_attention positions and slots must be i32 [T]";
      }
      if (in[5].rank != 2 || in[5].shape[0] != h * (dn + dv) || in[5].shape[1] != c) return "mla_attention kv_b must be [H·(dn+dv), C]";
      if (scaled && (in[6].dtype != FATHOM_DTYPE_F32 || in[6].rank != 2 || in[6].shape[0] != ceil_div(h * (dn + dv), 128) ||
                     in[6].shape[1] != ceil_div(c, 128)))
        return "mla_attention kv_b scales must be f32 [ceil(rows/128), ceil(C/128)]";
      if (cache.rank != 3 || cache.shape[2] != c + dr || cache.shape[0] <= 0 || cache.shape[1] <= 0)
        return "mla_attention cache must be [slots, max_seq_len, C + dr]";
      if (out[0].rank != 2 || out[0].shape[0] != in[0].shape[0] || out[0].shape[1] != h * dv)
        return "mla_attention output must be [T, H·dv]";
      return nullptr;
    }
    case FATHOM_OP_MOE_ROUTE: {
      if (op.attrs == nullptr || op.attrs_size < sizeof(fathom_moe_route_attrs)) return "moe_route needs fathom_moe_route_attrs";
      fathom_moe_route_attrs a;
      std::memcpy(&a, op.attrs, sizeof a);
      if (op.n_inputs != (a.has_bias ? 3u : 2u) || op.n_outputs != 2) return "moe_route takes x, gate (and bias), gives experts and weights";
      if (a.n_experts <= 0 || a.top_k <= 0 || a.top_k > a.n_experts) return "moe_route: need 0 < top_k <= n_experts";
      if (a.n_group <= 0 || a.n_experts % a.n_group != 0 || a.topk_group <= 0 || a.topk_group > a.n_group)
        return "moe_route: n_group must divide n_experts and 0 < topk_group <= n_group";
      if (a.top_k > (a.n_experts / a.n_group) * a.topk_group) return "moe_route: the kept groups hold fewer than top_k experts";
      if (a.scoring != FATHOM_SCORING_SOFTMAX && a.scoring != FATHOM_SCORING_SIGMOID) return "moe_route: unknown scoring";
      if (a.topk_method < FATHOM_TOPK_GREEDY || a.topk_method > FATHOM_TOPK_NOAUX_TC) return "moe_route: unknown topk_method";
      if (in[0].rank != 2 || in[1].rank != 2 || in[1].shape[0] != a.n_experts || in[1].shape[1] != in[0].shape[1])
        return "moe_route wants x [T, D] and gate [E, D]";
      if (a.has_bias && (in[2].rank != 1 || in[2].shape[0] != a.n_experts || in[2].dtype != FATHOM_DTYPE_F32))
        return "moe_route bias must be f32 [E]";
      for (int i = 0; i < 2; ++i) {
        if (out[i].rank != 2 || out[i].shape[0] != in[0].shape[0] || out[i].shape[1] != a.top_k) return "moe_route outputs must be [T, K]";
      }
      if (out[0].dtype != FATHOM_DTYPE_I32 || out[1].dtype != FATHOM_DTYPE_F32) return "moe_route outputs are i32 experts and f32 weights";
      return nullptr;
    }
    case FATHOM_OP_MOE_EXPERTS: {
      if (op.attrs == nullptr || op.attrs_size < sizeof(fathom_moe_experts_attrs)) return "moe_experts needs fathom_moe_experts_attrs";
      fathom_moe_experts_attrs a;
      std::memcpy(&a, op.attrs, sizeof a);
      if (a.n_experts <= 0 || a.top_k <= 0 || a.hidden <= 0 || a.intermediate <= 0) return "moe_experts: dimensions must be positive";
      if (op.n_inputs < 3 || op.n_outputs != 1) return "moe_experts takes x, experts, weights and the expert matrices";
      if (in[0].rank != 2 || in[0].shape[1] != a.hidden) return "moe_experts x must be [T, D]";
      if (in[1].rank != 2 || in[1].dtype != FATHOM_DTYPE_I32 || in[1].shape[1] != a.top_k || in[1].shape[0] != in[0].shape[0])
        return "moe_experts experts must be i32 [T, K]";
      if (in[2].rank != 2 || in[2].dtype != FATHOM_DTYPE_F32 || in[2].shape[1] != a.top_k || in[2].shape[0] != in[0].shape[0])
        return "moe_experts weights must be f32 [T, K]";
      uint32_t i = 3;
      for (int32_t e = 0; e < a.n_experts; ++e) {
        for (int m = 0; m < 3; ++m) {
          if (i >= op.n_inputs) return "moe_experts: fewer expert matrices than n_experts × 3";
          const fathom_tensor_desc& w = in[i++];
          const int64_t rows = m < 2 ? a.intermediate : a.hidden, cols = m < 2 ? a.hidden : a.intermediate;
          if (w.rank != 2 || w.shape[0] != rows || w.shape[1] != cols)
            return "moe_experts: expert matrices must be gate [I, D], up [I, D], down [D, I]";
          if (w.layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128) {
            if (i >= op.n_inputs) return "moe_experts: a block-scaled expert matrix lacks its scales";
            const fathom_tensor_desc& sc = in[i++];
            if (sc.dtype != FATHOM_DTYPE_F32 || sc.rank != 2 || sc.shape[0] != ceil_div(rows, 128) || sc.shape[1] != ceil_div(cols, 128))
              return "moe_experts: expert scales must be f32 [ceil(rows/128), ceil(cols/128)]";
          } else if (is_ggml_layout(w.layout)) {
            if (!detail::ggml_weight(w)) return "moe_experts: GGUF-block matrices must be U8 with rows of whole blocks";
          } else if (w.layout != FATHOM_LAYOUT_DENSE) {
            return "moe_experts: unknown weight layout";
          }
        }
      }
      if (i != op.n_inputs) return "moe_experts: more inputs than n_experts × 3 matrices";
      if (!same_shape(in[0], out[0])) return "moe_experts output must be [T, D]";
      return nullptr;
    }
    default:
      return "this op has no signature in this version of the plugin SDK";
  }
}

}  // namespace fathom::sdk
