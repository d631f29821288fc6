// The quantised weight formats of the cpu backend (weights = "int8" | "int4"), for CPUs where
// decode is bound by the bytes of weights it streams: 8.5 and 4.5 bits per weight against bf16's
// 16 and FP8's 8 (+ block scales).
//
// A row of K weights is cut into groups of kQuantGroup = 32; each group has one scale d (stored
// as f16 bits, in an array of its own: [rows][K / 32]) and 32 integer codes q, and weight = q · d.
//  - q8: q in [-127, 127], one int8 per weight, d = max |w| / 127 (symmetric).
//  - q4: q in [-8, 7], stored as q + 8 in a nibble, 16 bytes per group: byte j holds weight j in
//    its low nibble and weight j + 16 in its high one (so one 16-byte load and a shift give the
//    group's two halves). d = m / -8 where m is the weight of largest magnitude, which thus
//    becomes exactly -8 · d, using the code that a symmetric range would leave unused.
// Codes are chosen against the stored (f16-rounded) d, so the dequantised weight q · d is what
// the quantiser meant, and it is exact in f32 (at most 8 bits times an 11-bit mantissa).
//
// This is the layout of llama.cpp's Q8_0 and Q4_0 blocks (there the scale sits in front of each
// block; here apart, so that the codes of a row are one aligned stream).
//
// Header-only and plain C++: shared by the scalar table, the quantiser (matmul/quantize.cpp) and
// the tests. Vector tables decode with their own instructions and are tested against these.
#pragma once

#include <cmath>
#include <cstdint>

#include "fathom/sdk/float_formats.hpp"
#include "isa/isa.h"

namespace fathom::cpu::quant {

inline constexpr int64_t kQ4GroupBytes = kQuantGroup / 2;

// Code of weight i (< 32) of a group, as the signed integer it stands for.
inline int code_q8(const int8_t* group, int64_t i) { return group[i]; }
inline int code_q4(const uint8_t* group, int64_t i) {
  const uint8_t b = group[i % kQ4GroupBytes];
  return (i < kQ4GroupBytes ? b & 0x0F : b >> 4) - 8;
}

// Weight i (< n) of a quantised row (q8, q4 or iq4), n a multiple of 32, scales the row's f16 scale bits.
inline float dequantised(WFormat fmt, const void* row, const uint16_t* scales, int64_t i) {
  const int64_t g = i / kQuantGroup, j = i % kQuantGroup;
  const float d = sdk::floats::f16_to_f32(scales[g]);
  if (fmt == WFormat::q8) return static_cast<float>(code_q8(static_cast<const int8_t*>(row) + g * kQuantGroup, j)) * d;
  const int q = code_q4(static_cast<const uint8_t*>(row) + g * kQ4GroupBytes, j);
  return static_cast<float>(fmt == WFormat::iq4 ? kIq4Values[q + 8] : q) * d;  // iq4: the nibble indexes the table
}

// Quantises 32 weights into `codes` (32 bytes for q8, 16 for q4); returns the f16 bits of the
// scale. A group of zeros gets d = 0 and codes that stand for 0. The weights should be finite
// and the scale comes out infinite past f16's range: the caller checks both (quantize.cpp).
inline uint16_t quantize_group(WFormat fmt, const float* w, void* codes) {
  float m = 0;  // the weight of largest magnitude, sign kept
  for (int64_t i = 0; i < kQuantGroup; ++i) {
    if (std::fabs(w[i]) > std::fabs(m)) m = w[i];
  }
  const bool q8 = fmt == WFormat::q8;
  const uint16_t bits = sdk::floats::f32_to_f16(q8 ? std::fabs(m) / 127.0f : m / -8.0f);
  const float d = sdk::floats::f16_to_f32(bits);
  const int lo = q8 ? -127 : -8, hi = q8 ? 127 : 7;
  auto code = [&](float v) {
    if (d == 0) return 0;
    const float q = std::nearbyint(v / d);
    // Written so that a NaN (from weights that are not finite, which callers refuse anyway) gives
    // a code rather than an undefined conversion.
    return q >= lo && q <= hi ? static_cast<int>(q) : q > hi ? hi : lo;
  };
  if (q8) {
    auto* out = static_cast<int8_t*>(codes);
    for (int64_t i = 0; i < kQuantGroup; ++i) out[i] = static_cast<int8_t>(code(w[i]));
  } else {
    auto* out = static_cast<uint8_t*>(codes);
    for (int64_t j = 0; j < kQ4GroupBytes; ++j) {
      out[j] = static_cast<uint8_t>((code(w[j]) + 8) | (code(w[j + kQ4GroupBytes]) + 8) << 4);
    }
  }
  return bits;
}

// The packed K formats (isa.h: q6k, q5k, q3k, q2k), per 64 weights: for q6k and q5k, 32 bytes of
// nibbles (byte j holds weight j low and weight j + 32 high); then one 8-byte plane per further
// bit (bit i of the 64-bit little-endian word is weight i's): bits 4 (and 5) for q5k (q6k), bits
// 0, 1 (and 2) for q2k (q3k). 40, 48, 16 and 24 bytes. The stored value less packed_offset is the
// code: q6k's in [-32, 31] (Q6_K's), q3k's in [-4, 3] (Q3_K's); q5k's [0, 31] and q2k's [0, 3]
// are Q5_K's and Q2_K's, whose mins do the rest. Laid out so that a vector kernel rebuilds 64
// codes in order from (one 32-byte load and) a mask per plane.
inline int code_packed(WFormat fmt, const uint8_t* row, int64_t i) {
  const uint8_t* b = row + i / 64 * packed_block_bytes(fmt);
  const int64_t j = i % 64;
  int u = 0;
  if (packed_nibbles(fmt)) {
    u = j < 32 ? b[j] & 0x0F : b[j - 32] >> 4;
    b += 32;
  }
  for (int p = 0; p < packed_planes(fmt); ++p) u |= ((b[8 * p + j / 8] >> (j % 8)) & 1) << (packed_first_plane_bit(fmt) + p);
  return u - packed_offset(fmt);
}
// Writes weight i's code (in the range above) into a row whose bytes started at zero.
inline void set_code_packed(WFormat fmt, uint8_t* row, int64_t i, int code) {
  uint8_t* b = row + i / 64 * packed_block_bytes(fmt);
  const int64_t j = i % 64;
  const int u = code + packed_offset(fmt);
  if (packed_nibbles(fmt)) {
    if (j < 32) b[j] = static_cast<uint8_t>(b[j] | (u & 0x0F));
    else b[j - 32] = static_cast<uint8_t>(b[j - 32] | (u & 0x0F) << 4);
    b += 32;
  }
  for (int p = 0; p < packed_planes(fmt); ++p) {
    const int bit = (u >> (packed_first_plane_bit(fmt) + p)) & 1;
    b[8 * p + j / 8] = static_cast<uint8_t>(b[8 * p + j / 8] | bit << (j % 8));
  }
}

// The 64 codes of one block (in the range above) packed at out, packed_block_bytes(fmt) bytes:
// what set_code_packed writes one at a time, in straight loops (for unpacking whole matrices).
inline void pack_block(WFormat fmt, const int8_t* codes, uint8_t* out) {
  uint8_t u[64];
  for (int j = 0; j < 64; ++j) u[j] = static_cast<uint8_t>(codes[j] + packed_offset(fmt));
  if (packed_nibbles(fmt)) {
    for (int j = 0; j < 32; ++j) out[j] = static_cast<uint8_t>((u[j] & 0x0F) | (u[j + 32] & 0x0F) << 4);
    out += 32;
  }
  for (int p = 0; p < packed_planes(fmt); ++p) {
    const int bit = packed_first_plane_bit(fmt) + p;
    for (int i = 0; i < 8; ++i) {
      int byte = 0;
      for (int j = 0; j < 8; ++j) byte |= ((u[8 * i + j] >> bit) & 1) << j;
      out[8 * p + i] = static_cast<uint8_t>(byte);
    }
  }
}

// Code i of a row in a K format (isa.h).
inline int code_k(WFormat fmt, const void* row, int64_t i) {
  const int64_t g = i / kQuantGroup, j = i % kQuantGroup;
  if (packed_k(fmt)) return code_packed(fmt, static_cast<const uint8_t*>(row), i);
  const int nibble = code_q4(static_cast<const uint8_t*>(row) + g * kQ4GroupBytes, j) + 8;
  return fmt == WFormat::iq4k ? kIq4Values[nibble] : nibble;
}

// Weights [0, n) of a row in a K format (q4k or a packed one; isa.h), `s` the row's scales: computed as
// the reference computes a K-quant weight (sdk/ggml_blocks.hpp), so exactly the same f32 value.
inline void widen_k_row(WFormat fmt, const void* row, const KScales& s, float* dst, int64_t n) {
  const int64_t sub = kquant_sub_block(fmt);
  for (int64_t i = 0; i < n; ++i) {
    const int code = code_k(fmt, row, i);
    const float scale = s.d[i / kKSuperBlock] * static_cast<float>(s.scale[i / sub]);
    const float min = s.min ? s.dmin[i / kKSuperBlock] * static_cast<float>(s.min[i / sub]) : 0.0f;
    dst[i] = static_cast<float>(code) * scale - min;
  }
}

}  // namespace fathom::cpu::quant
