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
      if (in[1].rank != 2 || !is_dense(in[1])) return "embedding table must be dense [V, D]";
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
    default:
      return "this op has no signature in this version of the plugin SDK";
  }
}

}  // namespace fathom::sdk
