// Element types and exact conversions between them.
//
// Conversions to narrower floating types round to nearest, ties to even. FP8 follows the OCP
// "8-bit Floating Point Specification" (OFP8) v1.0:
//   e4m3fn: bias 7, no infinities, the only NaNs are S.1111.111, largest finite 448.
//   e5m2:   bias 15, infinities and NaNs as in IEEE 754 binary16's top byte, largest finite 57344.
// Overflow behaviour is chosen by Saturation: `saturate` clamps finite values that round past
// the largest finite to ±max (what DeepSeek's quantiser and cuBLASLt do); `non_saturating`
// gives NaN for e4m3fn and ±Inf for e5m2, as the spec's non-saturating mode says. Infinity
// inputs become ±max (saturate) or NaN/±Inf (non_saturating); NaN stays NaN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fathom/plugin_api.h"

namespace fathom {

enum class DType : uint32_t {
  f32 = FATHOM_DTYPE_F32,
  f16 = FATHOM_DTYPE_F16,
  bf16 = FATHOM_DTYPE_BF16,
  f8_e4m3fn = FATHOM_DTYPE_F8_E4M3FN,
  f8_e5m2 = FATHOM_DTYPE_F8_E5M2,
  i32 = FATHOM_DTYPE_I32,
  i64 = FATHOM_DTYPE_I64,
  u8 = FATHOM_DTYPE_U8,
};

std::size_t dtype_size(DType t);         // bytes per element
std::string_view dtype_name(DType t);    // "f32", "bf16", "f8_e4m3fn", ...
bool dtype_is_float(DType t);
// Parses a name as printed by dtype_name; throws fathom::Error(invalid_argument) otherwise.
DType dtype_from_name(std::string_view name);
// Validates a raw id from the ABI; throws fathom::Error(invalid_argument) for an unknown id.
DType dtype_from_id(uint32_t id);

enum class Saturation { saturate, non_saturating };

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t b);
uint16_t f32_to_bf16(float f);
float f8_e4m3fn_to_f32(uint8_t v);
uint8_t f32_to_f8_e4m3fn(float f, Saturation mode = Saturation::saturate);
float f8_e5m2_to_f32(uint8_t v);
uint8_t f32_to_f8_e5m2(float f, Saturation mode = Saturation::saturate);

// Converts n elements of `from` at src into f32 at dst (integers convert by value).
void convert_to_f32(DType from, const void* src, float* dst, std::size_t n);
// Converts n f32 values into `to` (saturating for FP8; integers round to nearest).
void convert_from_f32(DType to, const float* src, void* dst, std::size_t n);

}  // namespace fathom
