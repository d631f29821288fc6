// Small helpers over fathom_tensor_desc for plugin code.
#pragma once

#include <cstdint>
#include <string>

#include "fathom/plugin_api.h"
#include "fathom/sdk/status.hpp"

namespace fathom::sdk {

inline uint64_t dtype_bytes(uint32_t dtype) {
  switch (dtype) {
    case FATHOM_DTYPE_F32: return 4;
    case FATHOM_DTYPE_F16: return 2;
    case FATHOM_DTYPE_BF16: return 2;
    case FATHOM_DTYPE_F8_E4M3FN: return 1;
    case FATHOM_DTYPE_F8_E5M2: return 1;
    case FATHOM_DTYPE_I32: return 4;
    case FATHOM_DTYPE_I64: return 8;
    case FATHOM_DTYPE_U8: return 1;
    default: fail_invalid("unknown dtype id " + std::to_string(dtype));
  }
}

inline bool is_float_dtype(uint32_t dtype) { return dtype >= FATHOM_DTYPE_F32 && dtype <= FATHOM_DTYPE_F8_E5M2; }

// Extent of dimension d with FATHOM_DIM_TOKENS replaced by n_tokens.
inline int64_t extent(const fathom_tensor_desc& t, int d, int64_t n_tokens) {
  return t.shape[d] == FATHOM_DIM_TOKENS ? n_tokens : t.shape[d];
}

inline int64_t element_count(const fathom_tensor_desc& t, int64_t n_tokens) {
  int64_t n = 1;
  for (int d = 0; d < t.rank; ++d) n *= extent(t, d, n_tokens);
  return n;
}

// GGUF block layouts (FATHOM_LAYOUT_GGML_*): bytes per block, 0 for other layouts; and weights
// per block.
inline int64_t ggml_block_bytes(uint32_t layout) {
  switch (layout) {
    case FATHOM_LAYOUT_GGML_Q8_0: return 34;
    case FATHOM_LAYOUT_GGML_Q4_0: return 18;
    case FATHOM_LAYOUT_GGML_Q4_K: return 144;
    case FATHOM_LAYOUT_GGML_Q5_K: return 176;
    case FATHOM_LAYOUT_GGML_Q6_K: return 210;
    case FATHOM_LAYOUT_GGML_Q5_0: return 22;
    case FATHOM_LAYOUT_GGML_Q4_1: return 20;
    case FATHOM_LAYOUT_GGML_Q5_1: return 24;
    case FATHOM_LAYOUT_GGML_IQ4_NL: return 18;
    case FATHOM_LAYOUT_GGML_Q2_K: return 84;
    case FATHOM_LAYOUT_GGML_Q3_K: return 110;
    case FATHOM_LAYOUT_GGML_IQ4_XS: return 136;
    case FATHOM_LAYOUT_GGML_IQ2_XXS: return 66;
    case FATHOM_LAYOUT_GGML_IQ2_XS: return 74;
    case FATHOM_LAYOUT_GGML_IQ2_S: return 82;
    case FATHOM_LAYOUT_GGML_IQ3_XXS: return 98;
    case FATHOM_LAYOUT_GGML_IQ3_S: return 110;
    case FATHOM_LAYOUT_GGML_IQ1_S: return 50;
    case FATHOM_LAYOUT_GGML_IQ1_M: return 56;
    default: return 0;
  }
}
inline bool is_ggml_layout(uint32_t layout) { return ggml_block_bytes(layout) != 0; }
inline bool is_ggml_k_layout(uint32_t layout) {
  return layout == FATHOM_LAYOUT_GGML_Q4_K || layout == FATHOM_LAYOUT_GGML_Q5_K || layout == FATHOM_LAYOUT_GGML_Q6_K ||
         layout == FATHOM_LAYOUT_GGML_Q2_K || layout == FATHOM_LAYOUT_GGML_Q3_K || layout == FATHOM_LAYOUT_GGML_IQ4_XS;
}
// The I-quants below 4 bits (IQ2_XXS to IQ1_M): weights picked from a fixed table per 8 or 4.
inline bool is_ggml_grid_layout(uint32_t layout) {
  return layout >= FATHOM_LAYOUT_GGML_IQ2_XXS && layout <= FATHOM_LAYOUT_GGML_IQ1_M;
}
inline int64_t ggml_block_weights(uint32_t layout) {
  return is_ggml_k_layout(layout) || is_ggml_grid_layout(layout) ? 256 : 32;
}

inline uint64_t byte_size(const fathom_tensor_desc& t, int64_t n_tokens) {
  if (is_ggml_layout(t.layout)) {  // [N, K] in whole blocks
    return static_cast<uint64_t>(element_count(t, n_tokens) / ggml_block_weights(t.layout) * ggml_block_bytes(t.layout));
  }
  return static_cast<uint64_t>(element_count(t, n_tokens)) * dtype_bytes(t.dtype);
}

// Elements per row: the product of all dimensions but the first.
inline int64_t row_length(const fathom_tensor_desc& t) {
  int64_t n = 1;
  for (int d = 1; d < t.rank; ++d) n *= t.shape[d];
  return n;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace fathom::sdk
