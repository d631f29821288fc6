// Exact conversions between f32 and the small float formats, written once for device and host.
//
// They must agree bit for bit with sdk::floats (the codec of the reference backend and of the
// checkpoint loader): round to nearest, ties to even; NaN keeps its sign and becomes the format's
// canonical NaN; FP8 conversions in the graph saturate. tests/conformance/cuda_codec_test.cpp
// checks every small-format code and a dense sweep of f32 against sdk::floats on the host.
//
// Decoding works on the bits: a normal small float's exponent and mantissa are placed where f32
// keeps them (a normal, if tiny, f32) and rescaled by a power of two; subnormals are their
// integer mantissa times a power of two. Both steps are exact and never touch f32 subnormals, so
// flush-to-zero settings do not matter.
//
// In CUDA device code the decoders use the GPU's conversion instructions instead, where it has
// them: f16 -> f32 everywhere, FP8 -> f16 from sm_89 on (every finite FP8 value is an f16, so
// both steps are exact and give the bit decoding's values). Decoding is most of the work of a
// decode step's weight-streaming kernels: the bit decoding takes about as many instructions per
// FP8 weight as an H200 has issue slots per byte it streams. A NaN code gives a NaN either way,
// not necessarily the same one.
#pragma once

#include <cstdint>
#include <cstring>

#include "vendor/gpu_compat.h"

namespace fathom::gpu {

FATHOM_HD float bits_to_f32(uint32_t b) {
#if defined(__CUDA_ARCH__) || (defined(__HIP_DEVICE_COMPILE__) && __HIP_DEVICE_COMPILE__)
  return __uint_as_float(b);
#else
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
#endif
}

FATHOM_HD uint32_t f32_to_bits(float f) {
#if defined(__CUDA_ARCH__) || (defined(__HIP_DEVICE_COMPILE__) && __HIP_DEVICE_COMPILE__)
  return __float_as_uint(f);
#else
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
#endif
}

FATHOM_HD float bf16_to_f32(uint16_t v) { return bits_to_f32(static_cast<uint32_t>(v) << 16); }

FATHOM_HD uint16_t f32_to_bf16(float f) {
  uint32_t bits = f32_to_bits(f);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // quiet NaN
  bits += 0x7FFFu + ((bits >> 16) & 1u);  // ties to even; a carry into the exponent is correct
  return static_cast<uint16_t>(bits >> 16);
}

#if defined(__CUDA_ARCH__)
#define FATHOM_GPU_CVT_F16 1
#if __CUDA_ARCH__ >= 890
#define FATHOM_GPU_CVT_FP8 1
#endif
#endif

#ifdef FATHOM_GPU_CVT_F16
__device__ __forceinline__ float gpu_f16_bits_to_f32(uint16_t h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
#endif

#ifdef FATHOM_GPU_CVT_FP8
// Two FP8 codes (the first in the low byte) to two f16 (the first in the low half).
template <bool kE4M3>
__device__ __forceinline__ uint32_t gpu_fp8x2_to_f16x2(uint16_t two) {
  uint32_t h2;
  if constexpr (kE4M3) {
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h2) : "h"(two));
  } else {
    asm("cvt.rn.f16x2.e5m2x2 %0, %1;" : "=r"(h2) : "h"(two));
  }
  return h2;
}
#endif

// 2^n for |n| < 127, exactly.
FATHOM_HD float pow2(int n) { return bits_to_f32(static_cast<uint32_t>(127 + n) << 23); }

FATHOM_HD float with_sign(float magnitude, uint32_t sign_bit) { return bits_to_f32(f32_to_bits(magnitude) | sign_bit); }

// f16 (and e5m2, which is the upper byte of an f16): exponent bias 15.
FATHOM_HD float f16_to_f32(uint16_t h) {
#ifdef FATHOM_GPU_CVT_F16
  return gpu_f16_bits_to_f32(h);
#else
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t rest = h & 0x7FFFu;
  if (rest >= 0x7C00u) return bits_to_f32(sign | 0x7F800000u | ((rest & 0x3FFu) << 13));  // Inf, NaN
  if (rest < 0x0400u) return with_sign(static_cast<float>(rest) * pow2(-24), sign);  // zero, subnormal
  return with_sign(bits_to_f32(rest << 13) * pow2(112), sign);
#endif
}

FATHOM_HD float e5m2_to_f32(uint8_t v) { return f16_to_f32(static_cast<uint16_t>(v << 8)); }

// e4m3fn: bias 7, no infinities, S.1111.111 is NaN.
FATHOM_HD float e4m3fn_to_f32(uint8_t v) {
#ifdef FATHOM_GPU_CVT_FP8
  return gpu_f16_bits_to_f32(static_cast<uint16_t>(gpu_fp8x2_to_f16x2<true>(v) & 0xFFFFu));
#else
  const uint32_t sign = static_cast<uint32_t>(v & 0x80u) << 24;
  const uint32_t rest = v & 0x7Fu;
  if (rest == 0x7Fu) return bits_to_f32(sign | 0x7FC00000u);
  if (rest < 0x08u) return with_sign(static_cast<float>(rest) * pow2(-9), sign);  // zero, subnormal
  return with_sign(bits_to_f32(rest << 20) * pow2(120), sign);
#endif
}

// Four FP8 codes packed in a word, the first in the low byte, to f32: two conversion
// instructions for the four where the GPU has them.
template <bool kE4M3>
FATHOM_HD void fp8x4_to_f32(uint32_t four, float out[4]) {
#ifdef FATHOM_GPU_CVT_FP8
  const uint32_t lo = gpu_fp8x2_to_f16x2<kE4M3>(static_cast<uint16_t>(four & 0xFFFFu));
  const uint32_t hi = gpu_fp8x2_to_f16x2<kE4M3>(static_cast<uint16_t>(four >> 16));
  out[0] = gpu_f16_bits_to_f32(static_cast<uint16_t>(lo & 0xFFFFu));
  out[1] = gpu_f16_bits_to_f32(static_cast<uint16_t>(lo >> 16));
  out[2] = gpu_f16_bits_to_f32(static_cast<uint16_t>(hi & 0xFFFFu));
  out[3] = gpu_f16_bits_to_f32(static_cast<uint16_t>(hi >> 16));
#else
  for (int i = 0; i < 4; ++i) {
    const auto code = static_cast<uint8_t>(four >> (8 * i));
    out[i] = kE4M3 ? e4m3fn_to_f32(code) : e5m2_to_f32(code);
  }
#endif
}

// Rounds |f| (bits without the sign) to a format with EXP exponent bits and MAN mantissa bits.
// IEEE formats (f16, e5m2) reserve the top exponent for Inf/NaN; e4m3fn only S.1111.111 for NaN.
template <int EXP, int MAN, bool IEEE>
FATHOM_HD uint32_t encode_small_float(float f, bool saturate) {
  constexpr int kBias = (1 << (EXP - 1)) - 1;
  constexpr uint32_t kExpMask = (1u << EXP) - 1;
  constexpr uint32_t kManMask = (1u << MAN) - 1;
  constexpr uint32_t kSign = 1u << (EXP + MAN);
  constexpr uint32_t kMaxFinite = IEEE ? (((kExpMask - 1) << MAN) | kManMask) : (((kExpMask << MAN) | kManMask) - 1);
  constexpr uint32_t kNan = IEEE ? ((kExpMask << MAN) | (1u << (MAN - 1))) : ((kExpMask << MAN) | kManMask);
  constexpr uint32_t kInf = kExpMask << MAN;
  constexpr int kMinNormalExp = 1 - kBias;

  const uint32_t bits = f32_to_bits(f);
  const uint32_t sign = (bits >> 31) ? kSign : 0u;
  const uint32_t a = bits & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | kNan;
  const uint32_t overflow = saturate ? kMaxFinite : (IEEE ? kInf : kNan);
  if (a == 0x7F800000u) return sign | overflow;
  if (a < 0x00800000u) return sign;  // zero or an f32 subnormal: far below half the smallest subnormal

  const int e = static_cast<int>(a >> 23) - 127;      // weight of the leading bit: 2^e
  const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;     // 24-bit significand, value m · 2^(e-23)
  const int unit_exp = (e > kMinNormalExp ? e : kMinNormalExp) - MAN;  // weight of the last kept bit
  const int shift = unit_exp - (e - 23);              // bits dropped from m (>= 23 - MAN > 0)
  uint32_t r;
  if (shift >= 26) {
    r = 0;  // m · 2^-shift < 1/4: rounds to zero
  } else {
    r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;
  }
  uint32_t out;
  if (e < kMinNormalExp) {
    out = r;  // subnormal; r == 2^MAN is exactly the smallest normal's encoding
  } else {
    int exp_field = e + kBias;
    if (r == (1u << (MAN + 1))) {  // rounding carried into the next binade
      r >>= 1;
      ++exp_field;
    }
    if (exp_field > static_cast<int>(kExpMask)) return sign | overflow;
    out = (static_cast<uint32_t>(exp_field) << MAN) | (r & kManMask);
  }
  if (out > kMaxFinite) return sign | overflow;
  return sign | out;
}

// IEEE binary16 overflows to ±Inf, as hardware conversions do.
FATHOM_HD uint16_t f32_to_f16(float f) { return static_cast<uint16_t>(encode_small_float<5, 10, true>(f, false)); }
FATHOM_HD uint8_t f32_to_e4m3fn(float f, bool saturate) {
  return static_cast<uint8_t>(encode_small_float<4, 3, false>(f, saturate));
}
FATHOM_HD uint8_t f32_to_e5m2(float f, bool saturate) {
  return static_cast<uint8_t>(encode_small_float<5, 2, true>(f, saturate));
}

}  // namespace fathom::gpu
