// Reading weights stored in GGUF's Q8_0 / Q4_0 blocks (plugin_api.h, FATHOM_LAYOUT_GGML_*), one
// value at a time: for reference code and for dequantising a few tensors on load. Fast kernels
// unpack whole rows their own way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fathom/plugin_api.h"
#include "fathom/sdk/float_formats.hpp"
#include "fathom/sdk/tensor.hpp"

namespace fathom::sdk {

// Bytes of one row of `cols` weights (cols a multiple of 32).
inline int64_t ggml_row_bytes(uint32_t layout, int64_t cols) { return cols / kGgmlBlockWeights * ggml_block_bytes(layout); }

// Weight c of a row of blocks: its code times its block's scale d (f16, the block's first two bytes).
inline float ggml_value(const std::byte* row, uint32_t layout, int64_t c) {
  const std::byte* block = row + (c / kGgmlBlockWeights) * ggml_block_bytes(layout);
  uint16_t d_bits;
  std::memcpy(&d_bits, block, 2);
  const float d = floats::f16_to_f32(d_bits);
  const int64_t j = c % kGgmlBlockWeights;
  if (layout == FATHOM_LAYOUT_GGML_Q8_0) return static_cast<float>(static_cast<int8_t>(block[2 + j])) * d;
  const auto byte = static_cast<uint8_t>(block[2 + j % 16]);  // Q4_0: weight j low, weight j + 16 high
  return static_cast<float>((j < 16 ? byte & 0x0F : byte >> 4) - 8) * d;
}

}  // namespace fathom::sdk
