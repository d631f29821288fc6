#include "fathom/core/dtype.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "fathom/core/error.h"
#include "fathom/sdk/float_formats.hpp"

namespace fathom {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f16: return 2;
    case DType::bf16: return 2;
    case DType::f8_e4m3fn: return 1;
    case DType::f8_e5m2: return 1;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  throw internal_error("dtype_size: unknown dtype id " + std::to_string(static_cast<uint32_t>(t)));
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::f8_e4m3fn: return "f8_e4m3fn";
    case DType::f8_e5m2: return "f8_e5m2";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
  }
  return "invalid";
}

bool dtype_is_float(DType t) {
  return t == DType::f32 || t == DType::f16 || t == DType::bf16 || t == DType::f8_e4m3fn || t == DType::f8_e5m2;
}

DType dtype_from_name(std::string_view name) {
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::f8_e4m3fn, DType::f8_e5m2, DType::i32, DType::i64,
                  DType::u8}) {
    if (dtype_name(t) == name) return t;
  }
  throw invalid_argument("unknown dtype '" + std::string(name) +
                         "' (expected f32, f16, bf16, f8_e4m3fn, f8_e5m2, i32, i64 or u8)");
}

DType dtype_from_id(uint32_t id) {
  if (id >= FATHOM_DTYPE_F32 && id <= FATHOM_DTYPE_U8) return static_cast<DType>(id);
  throw invalid_argument("unknown dtype id " + std::to_string(id));
}

namespace floats = sdk::floats;

float f16_to_f32(uint16_t h) { return floats::f16_to_f32(h); }
uint16_t f32_to_f16(float f) { return floats::f32_to_f16(f); }
float bf16_to_f32(uint16_t b) { return floats::bf16_to_f32(b); }
uint16_t f32_to_bf16(float f) { return floats::f32_to_bf16(f); }
float f8_e4m3fn_to_f32(uint8_t v) { return floats::e4m3fn_to_f32(v); }
uint8_t f32_to_f8_e4m3fn(float f, Saturation mode) { return floats::f32_to_e4m3fn(f, mode == Saturation::saturate); }
float f8_e5m2_to_f32(uint8_t v) { return floats::e5m2_to_f32(v); }
uint8_t f32_to_f8_e5m2(float f, Saturation mode) { return floats::f32_to_e5m2(f, mode == Saturation::saturate); }

void convert_to_f32(DType from, const void* src, float* dst, std::size_t n) {
  switch (from) {
    case DType::f32: std::memcpy(dst, src, n * sizeof(float)); return;
    case DType::f16: {
      auto* s = static_cast<const uint16_t*>(src);
      for (std::size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return;
    }
    case DType::bf16: {
      auto* s = static_cast<const uint16_t*>(src);
      for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::f8_e4m3fn: {
      auto* s = static_cast<const uint8_t*>(src);
      for (std::size_t i = 0; i < n; ++i) dst[i] = f8_e4m3fn_to_f32(s[i]);
      return;
    }
    case DType::f8_e5m2: {
      auto* s = static_cast<const uint8_t*>(src);
      for (std::size_t i = 0; i < n; ++i) dst[i] = f8_e5m2_to_f32(s[i]);
      return;
    }
    case DType::i32: {
      auto* s = static_cast<const int32_t*>(src);
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
      return;
    }
    case DType::i64: {
      auto* s = static_cast<const int64_t*>(src);
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
      return;
    }
    case DType::u8: {
      auto* s = static_cast<const uint8_t*>(src);
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
      return;
    }
  }
  throw internal_error("convert_to_f32: unknown dtype");
}

void convert_from_f32(DType to, const float* src, void* dst, std::size_t n) {
  switch (to) {
    case DType::f32: std::memcpy(dst, src, n * sizeof(float)); return;
    case DType::f16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (std::size_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
      return;
    }
    case DType::bf16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (std::size_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::f8_e4m3fn: {
      auto* d = static_cast<uint8_t*>(dst);
      for (std::size_t i = 0; i < n; ++i) d[i] = f32_to_f8_e4m3fn(src[i]);
      return;
    }
    case DType::f8_e5m2: {
      auto* d = static_cast<uint8_t*>(dst);
      for (std::size_t i = 0; i < n; ++i) d[i] = f32_to_f8_e5m2(src[i]);
      return;
    }
    case DType::i32: {
      auto* d = static_cast<int32_t*>(dst);
      for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<int32_t>(std::lrint(src[i]));
      return;
    }
    case DType::i64: {
      auto* d = static_cast<int64_t*>(dst);
      for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<int64_t>(std::llrint(src[i]));
      return;
    }
    case DType::u8: {
      auto* d = static_cast<uint8_t*>(dst);
      for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(std::lrint(std::fmin(std::fmax(src[i], 0.f), 255.f)));
      return;
    }
  }
  throw internal_error("convert_from_f32: unknown dtype");
}

}  // namespace fathom
