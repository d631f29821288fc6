// Reading weights stored in GGUF blocks (plugin_api.h, FATHOM_LAYOUT_GGML_*), one value at a
// time: for reference code, for dequantising a few tensors on load, and for fast kernels that
// unpack whole rows once into a layout of their own (so that the bit layouts live here only).
//
// Every layout reduces to weight = code · scale − min per sub-block: the code a small integer,
// scale and min exact in f32 (an f16 times an integer of at most 8 bits), code · scale exact too
// (at most 24 significant bits), so the value rounds at most once, at the subtraction. The
// I-quants below 4 bits, whose codes come from tables, are read by ggml_grid_group instead: an
// integer per weight times one exact factor per block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fathom/plugin_api.h"
#include "fathom/sdk/float_formats.hpp"
#include "fathom/sdk/ggml_iq_grids.hpp"
#include "fathom/sdk/tensor.hpp"

namespace fathom::sdk {

// Bytes of one row of `cols` weights (cols a multiple of the layout's block).
inline int64_t ggml_row_bytes(uint32_t layout, int64_t cols) {
  return cols / ggml_block_weights(layout) * ggml_block_bytes(layout);
}

namespace ggml_detail {

inline uint8_t u8(const std::byte* p, int64_t i) { return static_cast<uint8_t>(p[i]); }
inline float f16(const std::byte* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return floats::f16_to_f32(bits);
}

// Q4_K / Q5_K: the 6-bit scale and min of sub-block s (< 8), from the 12 bytes that pack them:
// sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); 4-7 in the nibbles of
// bytes 8-11, their top two bits in the high bits of bytes 0-7.
inline void k_scale_min(const std::byte* packed, int64_t s, int& scale, int& min) {
  if (s < 4) {
    scale = u8(packed, s) & 63;
    min = u8(packed, s + 4) & 63;
  } else {
    scale = (u8(packed, s + 4) & 0x0F) | ((u8(packed, s - 4) >> 6) << 4);
    min = (u8(packed, s + 4) >> 4) | ((u8(packed, s) >> 6) << 4);
  }
}

// IQ4_XS: the six-bit scale of sub-block s (< 8) as stored (0-63; the weight's is 32 less): low four
// bits in nibble s % 2 of byte 4 + s / 2, the top two at bit 2·s of the u16 at byte 2.
inline int iq4_xs_scale(const std::byte* block, int64_t s) {
  const int low = (u8(block, 4 + s / 2) >> (4 * (s % 2))) & 0x0F;
  const int high = ((u8(block, 2 + s / 4) >> (2 * (s % 4))) & 3);
  return low | high << 4;
}

// Q3_K: the six-bit scale of sub-block s (< 16) as stored (0-63; the weight's is 32 less): low
// four bits in the nibbles of bytes 0-7 (sub-blocks 0-7 low, 8-15 high), the top two in bytes 8-11.
inline int q3_k_scale(const std::byte* packed, int64_t s) {
  const int low = s < 8 ? u8(packed, s) & 0x0F : u8(packed, s - 8) >> 4;
  return low | ((u8(packed, 8 + s % 4) >> (2 * (s / 4))) & 3) << 4;
}

// IQ4_NL's codes: a non-linear table of int8 values, picked by the nibble.
inline constexpr int8_t kIq4NlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// A 4-bit code of Q4_0's nibble order (byte j: weight j low, weight j + 16 high).
inline int nibble(const std::byte* qs, int64_t j) {
  const uint8_t b = u8(qs, j % 16);
  return j < 16 ? b & 0x0F : b >> 4;
}
// Q5_0 / Q5_1: the nibble and bit j of the four bytes of fifth bits (a little-endian u32).
inline int five_bits(const std::byte* qh, const std::byte* qs, int64_t j) {
  return nibble(qs, j) | ((u8(qh, j / 8) >> (j % 8)) & 1) << 4;
}

// Q2_K / Q3_K: the two low bits of weight j (< 256): bits 2·i of byte 32·h + l, for
// j = 128·h + 32·i + l.
inline int two_bits(const std::byte* qs, int64_t j) {
  return (u8(qs, 32 * (j / 128) + j % 32) >> (2 * (j % 128 / 32))) & 3;
}
// Q3_K: the third bit of weight j: bit 4·h + i of byte l (the same j = 128·h + 32·i + l).
inline int q3_k_high_bit(const std::byte* hmask, int64_t j) { return (u8(hmask, j % 32) >> (j / 32)) & 1; }

}  // namespace ggml_detail

// The sub-block of weight j of one block: weight = code · scale − min.
struct GgmlSubBlock {
  float scale = 0;
  float min = 0;
};

// The K-quants' two levels: per block of 256, f16 scales d and dmin (Q6_K, Q3_K, IQ4_XS: no
// dmin); per sub-block, small integers (Q4_K / Q5_K: 6-bit scale and min; Q6_K: an int8 scale;
// Q2_K: 4-bit scale and min; Q3_K, IQ4_XS: a 6-bit scale − 32), so that scale = d · integer scale
// and min = dmin · integer min.
struct GgmlSuperBlock {
  float d = 0;
  float dmin = 0;
};
struct GgmlSubIntegers {
  int scale = 0;
  int min = 0;
};

inline GgmlSuperBlock ggml_super_block(const std::byte* block, uint32_t layout) {
  using namespace ggml_detail;
  switch (layout) {
    case FATHOM_LAYOUT_GGML_Q6_K: return {f16(block + 208), 0};
    case FATHOM_LAYOUT_GGML_Q3_K: return {f16(block + 108), 0};
    case FATHOM_LAYOUT_GGML_Q2_K: return {f16(block + 80), f16(block + 82)};
    case FATHOM_LAYOUT_GGML_IQ4_XS: return {f16(block), 0};
    default: return {f16(block), f16(block + 2)};  // Q4_K, Q5_K
  }
}

inline GgmlSubIntegers ggml_sub_integers(const std::byte* block, uint32_t layout, int64_t j) {
  using namespace ggml_detail;
  switch (layout) {
    case FATHOM_LAYOUT_GGML_Q6_K: return {static_cast<int8_t>(u8(block, 192 + j / 16)), 0};
    case FATHOM_LAYOUT_GGML_Q3_K: return {q3_k_scale(block + 96, j / 16) - 32, 0};
    case FATHOM_LAYOUT_GGML_Q2_K: return {u8(block, j / 16) & 0x0F, u8(block, j / 16) >> 4};
    case FATHOM_LAYOUT_GGML_IQ4_XS: return {iq4_xs_scale(block, j / 32) - 32, 0};
    default: break;
  }
  GgmlSubIntegers s;
  k_scale_min(block + 4, j / 32, s.scale, s.min);
  return s;
}

inline GgmlSubBlock ggml_sub_block(const std::byte* block, uint32_t layout, int64_t j) {
  using namespace ggml_detail;
  switch (layout) {
    case FATHOM_LAYOUT_GGML_Q8_0:
    case FATHOM_LAYOUT_GGML_Q5_0:
    case FATHOM_LAYOUT_GGML_IQ4_NL: return {f16(block), 0};
    case FATHOM_LAYOUT_GGML_Q4_0: return {f16(block), 8 * f16(block)};  // code is the nibble
    case FATHOM_LAYOUT_GGML_Q4_1:
    case FATHOM_LAYOUT_GGML_Q5_1: return {f16(block), -f16(block + 2)};  // W = q · d + m
    case FATHOM_LAYOUT_GGML_Q2_K:
    case FATHOM_LAYOUT_GGML_Q3_K:
    case FATHOM_LAYOUT_GGML_IQ4_XS:
    case FATHOM_LAYOUT_GGML_Q4_K:
    case FATHOM_LAYOUT_GGML_Q5_K:
    case FATHOM_LAYOUT_GGML_Q6_K: {
      const GgmlSuperBlock s = ggml_super_block(block, layout);
      const GgmlSubIntegers i = ggml_sub_integers(block, layout, j);
      return {s.d * static_cast<float>(i.scale), s.dmin * static_cast<float>(i.min)};
    }
    default: return {};
  }
}

// The integer code of weight j of one block (for Q4_0 the raw nibble, its −8 being the min).
inline int ggml_code(const std::byte* block, uint32_t layout, int64_t j) {
  using namespace ggml_detail;
  switch (layout) {
    case FATHOM_LAYOUT_GGML_Q8_0: return static_cast<int8_t>(u8(block, 2 + j));
    case FATHOM_LAYOUT_GGML_Q4_0: return nibble(block + 2, j);
    case FATHOM_LAYOUT_GGML_Q4_1: return nibble(block + 4, j);
    case FATHOM_LAYOUT_GGML_IQ4_NL: return kIq4NlValues[nibble(block + 2, j)];
    case FATHOM_LAYOUT_GGML_Q5_0: return five_bits(block + 2, block + 6, j) - 16;
    case FATHOM_LAYOUT_GGML_Q5_1: return five_bits(block + 4, block + 8, j);
    case FATHOM_LAYOUT_GGML_Q2_K: return two_bits(block + 16, j);
    case FATHOM_LAYOUT_GGML_Q3_K: return (two_bits(block + 32, j) | q3_k_high_bit(block, j) << 2) - 4;
    case FATHOM_LAYOUT_GGML_IQ4_XS: return kIq4NlValues[nibble(block + 8 + 16 * (j / 32), j % 32)];
    case FATHOM_LAYOUT_GGML_Q4_K: {
      const uint8_t b = u8(block, 16 + 32 * (j / 64) + j % 32);
      return j % 64 < 32 ? b & 0x0F : b >> 4;
    }
    case FATHOM_LAYOUT_GGML_Q5_K: {
      const uint8_t b = u8(block, 48 + 32 * (j / 64) + j % 32);
      const int high = (u8(block, 16 + j % 32) >> (j / 32)) & 1;  // bit 2·i (+1 for the upper half)
      return (j % 64 < 32 ? b & 0x0F : b >> 4) | high << 4;
    }
    case FATHOM_LAYOUT_GGML_Q6_K: {
      // Halves of 128: four quarters of 32 share 64 low-bit bytes (two nibbles each) and 32
      // high-bit bytes (two bits each).
      const int64_t half = j / 128, quarter = j % 128 / 32, l = j % 32;
      const uint8_t low = u8(block, 64 * half + l + 32 * (quarter & 1));
      const uint8_t high = u8(block, 128 + 32 * half + l);
      const int q = (quarter < 2 ? low & 0x0F : low >> 4) | ((high >> (2 * quarter)) & 3) << 4;
      return q - 32;
    }
    default: return 0;
  }
}

// The codes of all 256 weights of one K-quant block at once, in order (as ggml_code gives them one
// by one), for unpacking whole matrices at load: straight loops the compiler vectorises.
inline void ggml_k_block_codes(const std::byte* block, uint32_t layout, int8_t* codes) {
  using namespace ggml_detail;
  switch (layout) {
    case FATHOM_LAYOUT_GGML_Q4_K:
    case FATHOM_LAYOUT_GGML_Q5_K: {  // 64 weights a chunk: byte l of chunk i holds l and 32 + l
      const int64_t low_bits = layout == FATHOM_LAYOUT_GGML_Q4_K ? 16 : 48;
      for (int64_t i = 0; i < 4; ++i) {
        for (int64_t l = 0; l < 32; ++l) {
          const uint8_t b = u8(block, low_bits + 32 * i + l);
          int first = b & 0x0F, second = b >> 4;
          if (layout == FATHOM_LAYOUT_GGML_Q5_K) {
            first |= ((u8(block, 16 + l) >> (2 * i)) & 1) << 4;
            second |= ((u8(block, 16 + l) >> (2 * i + 1)) & 1) << 4;
          }
          codes[64 * i + l] = static_cast<int8_t>(first);
          codes[64 * i + 32 + l] = static_cast<int8_t>(second);
        }
      }
      return;
    }
    case FATHOM_LAYOUT_GGML_Q6_K:  // halves of 128: byte l of the low bits holds l and 64 + l
      for (int64_t half = 0; half < 2; ++half) {
        for (int64_t l = 0; l < 32; ++l) {
          const uint8_t low0 = u8(block, 64 * half + l), low1 = u8(block, 64 * half + 32 + l), high = u8(block, 128 + 32 * half + l);
          int8_t* out = codes + 128 * half + l;
          out[0] = static_cast<int8_t>(((low0 & 0x0F) | (high & 3) << 4) - 32);
          out[32] = static_cast<int8_t>(((low1 & 0x0F) | ((high >> 2) & 3) << 4) - 32);
          out[64] = static_cast<int8_t>(((low0 >> 4) | ((high >> 4) & 3) << 4) - 32);
          out[96] = static_cast<int8_t>(((low1 >> 4) | ((high >> 6) & 3) << 4) - 32);
        }
      }
      return;
    case FATHOM_LAYOUT_GGML_Q2_K:
    case FATHOM_LAYOUT_GGML_Q3_K: {  // halves of 128: byte l of the low bits holds l, 32 + l, 64 + l, 96 + l
      const bool q3 = layout == FATHOM_LAYOUT_GGML_Q3_K;
      const std::byte* qs = block + (q3 ? 32 : 16);
      for (int64_t half = 0; half < 2; ++half) {
        for (int64_t i = 0; i < 4; ++i) {
          for (int64_t l = 0; l < 32; ++l) {
            int q = (u8(qs, 32 * half + l) >> (2 * i)) & 3;
            if (q3) q = (q | ((u8(block, l) >> (4 * half + i)) & 1) << 2) - 4;
            codes[128 * half + 32 * i + l] = static_cast<int8_t>(q);
          }
        }
      }
      return;
    }
    case FATHOM_LAYOUT_GGML_IQ4_XS:  // sub-blocks of 32 as IQ4_NL's blocks
      for (int64_t j = 0; j < 256; ++j) codes[j] = kIq4NlValues[nibble(block + 8 + 16 * (j / 32), j % 32)];
      return;
    default: return;
  }
}

namespace ggml_detail {

inline uint32_t u16(const std::byte* p, int64_t i) { return u8(p, i) | static_cast<uint32_t>(u8(p, i + 1)) << 8; }
inline uint32_t u32(const std::byte* p, int64_t i) { return u16(p, i) | u16(p, i + 2) << 16; }

// The eight signs of a group from a 7-bit index: bit j set for a minus, the eighth bit making the
// count of minuses even (the quantisers flip the smallest weight's sign to keep it so).
inline uint32_t even_signs(uint32_t seven) {
  uint32_t parity = seven;
  parity ^= parity >> 4;
  parity ^= parity >> 2;
  parity ^= parity >> 1;
  return seven | (parity & 1) << 7;
}

// 8 weights from a table entry's bytes (ggml_iq_grids.hpp), signs (bit j for weight j) and one
// integer scale: out[j] = ±byte j · scale.
inline void signed_entry(uint64_t entry, uint32_t signs, int scale, int16_t* out) {
  for (int j = 0; j < 8; ++j) {
    const int v = static_cast<int8_t>(entry >> (8 * j) & 0xFF) * scale;
    out[j] = static_cast<int16_t>(signs >> j & 1 ? -v : v);
  }
}
// IQ1_*: 8 weights of an entry of −1 / 0 / 1, each shifted by δ = ±1/8 and counted in eighths.
inline void shifted_entry(uint64_t entry, bool minus_delta, int scale, int16_t* out) {
  for (int j = 0; j < 8; ++j) {
    const int v = 8 * static_cast<int8_t>(entry >> (8 * j) & 0xFF) + (minus_delta ? -1 : 1);
    out[j] = static_cast<int16_t>(v * scale);
  }
}

}  // namespace ggml_detail

// The I-quants below 4 bits (is_ggml_grid_layout; plugin_api.h has the layouts): every weight is
// an integer times one factor per block, the factor d / 8 (IQ2_*, IQ1_*), d / 4 (IQ3_XXS) or d
// (IQ3_S), the integer ± table byte · (2·s + 1) (IQ1_*: (8 · (−1, 0 or 1) ± 1) · (2·s + 1)), at most
// 62 · 31 in magnitude. Both are exact in f32, and so is their product (at most 22 significant
// bits): the weight, as gguf-py's dequantiser gives it.
inline float ggml_grid_factor(const std::byte* block, uint32_t layout) {
  using namespace ggml_detail;
  if (layout == FATHOM_LAYOUT_GGML_IQ1_M) {  // d's four nibbles at the top of the four u16 of scales
    const uint32_t bits = u16(block, 48) >> 12 | (u16(block, 50) >> 8 & 0xF0) | (u16(block, 52) >> 4 & 0xF00) |
                          (u16(block, 54) & 0xF000);
    return floats::f16_to_f32(static_cast<uint16_t>(bits)) / 8;
  }
  const float d = f16(block);
  switch (layout) {
    case FATHOM_LAYOUT_GGML_IQ3_XXS: return d / 4;
    case FATHOM_LAYOUT_GGML_IQ3_S: return d;
    default: return d / 8;
  }
}

// The integers of group g (< 32) of 8 weights of one block: out[0..7] (weights 8·g to 8·g + 7).
inline void ggml_grid_group(const std::byte* block, uint32_t layout, int64_t g, int16_t* out) {
  using namespace ggml_detail;
  const int64_t quarter = g % 4;  // of the 32 weights that share a u32 or u16 of signs and scales
  switch (layout) {
    case FATHOM_LAYOUT_GGML_IQ2_XXS: {
      const std::byte* pair = block + 2 + 8 * (g / 4);
      const uint32_t meta = u32(pair, 4);
      signed_entry(kIq2XxsGrid[u8(pair, quarter)], even_signs(meta >> (7 * quarter) & 127), 2 * static_cast<int>(meta >> 28) + 1, out);
      return;
    }
    case FATHOM_LAYOUT_GGML_IQ2_XS: {
      const uint32_t q = u16(block, 2 + 2 * g);
      const int s = u8(block, 66 + g / 4) >> (4 * (g / 2 % 2)) & 0x0F;
      signed_entry(kIq2XsGrid[q & 511], even_signs(q >> 9), 2 * s + 1, out);
      return;
    }
    case FATHOM_LAYOUT_GGML_IQ2_S: {
      const uint32_t index = u8(block, 2 + g) | (u8(block, 66 + g / 4) >> (2 * quarter) & 3) << 8;
      const int s = u8(block, 74 + g / 4) >> (4 * (g / 2 % 2)) & 0x0F;
      signed_entry(kIq2SGrid[index], u8(block, 34 + g), 2 * s + 1, out);
      return;
    }
    case FATHOM_LAYOUT_GGML_IQ3_XXS: {
      const uint32_t meta = u32(block, 66 + 4 * (g / 4));
      const uint64_t entry = kIq3XxsGrid[u8(block, 2 + 2 * g)] | static_cast<uint64_t>(kIq3XxsGrid[u8(block, 3 + 2 * g)]) << 32;
      signed_entry(entry, even_signs(meta >> (7 * quarter) & 127), 2 * static_cast<int>(meta >> 28) + 1, out);
      return;
    }
    case FATHOM_LAYOUT_GGML_IQ3_S: {
      const uint32_t high = u8(block, 66 + g / 4);  // ninth bits of indices 2·g and 2·g + 1
      const uint32_t first = u8(block, 2 + 2 * g) | (high >> (2 * quarter) & 1) << 8;
      const uint32_t second = u8(block, 3 + 2 * g) | (high >> (2 * quarter + 1) & 1) << 8;
      const int s = u8(block, 106 + g / 8) >> (4 * (g / 4 % 2)) & 0x0F;
      signed_entry(kIq3SGrid[first] | static_cast<uint64_t>(kIq3SGrid[second]) << 32, u8(block, 74 + g), 2 * s + 1, out);
      return;
    }
    case FATHOM_LAYOUT_GGML_IQ1_S: {
      const uint32_t meta = u16(block, 34 + 2 * (g / 4));
      const uint32_t index = u8(block, 2 + g) | (meta >> (3 * quarter) & 7) << 8;
      shifted_entry(kIq1SGrid[index], (meta & 0x8000) != 0, 2 * static_cast<int>(meta >> 12 & 7) + 1, out);
      return;
    }
    case FATHOM_LAYOUT_GGML_IQ1_M: {
      const uint32_t nib = u8(block, 32 + g / 2) >> (4 * (g % 2)) & 0x0F;
      const int64_t t = g / 2;  // sub-block of 16
      const int s = static_cast<int>(u16(block, 48 + 2 * (t / 4)) >> (3 * (t % 4)) & 7);
      shifted_entry(kIq1SGrid[u8(block, g) | (nib & 7) << 8], (nib & 8) != 0, 2 * s + 1, out);
      return;
    }
    default:
      for (int j = 0; j < 8; ++j) out[j] = 0;
  }
}

// Weight c of a row of blocks.
inline float ggml_value(const std::byte* row, uint32_t layout, int64_t c) {
  const int64_t per_block = ggml_block_weights(layout);
  const std::byte* block = row + (c / per_block) * ggml_block_bytes(layout);
  const int64_t j = c % per_block;
  if (is_ggml_grid_layout(layout)) {
    int16_t group[8];
    ggml_grid_group(block, layout, j / 8, group);
    return static_cast<float>(group[j % 8]) * ggml_grid_factor(block, layout);
  }
  const GgmlSubBlock s = ggml_sub_block(block, layout, j);
  return static_cast<float>(ggml_code(block, layout, j)) * s.scale - s.min;
}

}  // namespace fathom::sdk
