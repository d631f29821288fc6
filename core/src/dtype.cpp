#include "fathom/core/dtype.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "fathom/core/error.h"

namespace fathom {

namespace {

// A small binary floating-point format: 1 sign bit, `exp_bits` exponent bits, `man_bits`
// mantissa bits. `ieee_specials` means the all-ones exponent encodes Inf/NaN (f16, e5m2);
// otherwise (e4m3fn) only the all-ones pattern S.1111.111 is NaN and there is no infinity.
struct SmallFloat {
  int exp_bits;
  int man_bits;
  bool ieee_specials;

  int bias() const { return (1 << (exp_bits - 1)) - 1; }
  uint32_t exp_mask() const { return (1u << exp_bits) - 1; }
  uint32_t man_mask() const { return (1u << man_bits) - 1; }
  uint32_t sign_bit() const { return 1u << (exp_bits + man_bits); }
  // Largest finite magnitude, as bits without the sign.
  uint32_t max_finite_bits() const {
    return ieee_specials ? (((exp_mask() - 1) << man_bits) | man_mask())
                         : ((exp_mask() << man_bits) | man_mask()) - 1;
  }
  uint32_t nan_bits() const {
    return ieee_specials ? ((exp_mask() << man_bits) | (1u << (man_bits - 1)))
                         : ((exp_mask() << man_bits) | man_mask());
  }
  uint32_t inf_bits() const { return exp_mask() << man_bits; }
};

constexpr SmallFloat kF16{5, 10, true};
constexpr SmallFloat kE4M3FN{4, 3, false};
constexpr SmallFloat kE5M2{5, 2, true};

float decode(const SmallFloat& fmt, uint32_t bits) {
  const bool negative = (bits & fmt.sign_bit()) != 0;
  const uint32_t exp = (bits >> fmt.man_bits) & fmt.exp_mask();
  const uint32_t man = bits & fmt.man_mask();
  float magnitude;
  if (fmt.ieee_specials && exp == fmt.exp_mask()) {
    magnitude = man == 0 ? INFINITY : NAN;
  } else if (!fmt.ieee_specials && exp == fmt.exp_mask() && man == fmt.man_mask()) {
    magnitude = NAN;
  } else if (exp == 0) {  // zero or subnormal: man · 2^(1 - bias - man_bits)
    magnitude = std::ldexp(static_cast<float>(man), 1 - fmt.bias() - fmt.man_bits);
  } else {
    magnitude = std::ldexp(static_cast<float>(man | (1u << fmt.man_bits)),
                           static_cast<int>(exp) - fmt.bias() - fmt.man_bits);
  }
  return negative ? -magnitude : magnitude;
}

// Rounds f to the nearest value of `fmt` (ties to even). Works in double, where every step
// below is exact: scaling by powers of two and rounding a value < 2^25 to an integer.
uint32_t encode(const SmallFloat& fmt, float f, Saturation mode) {
  const uint32_t sign = std::signbit(f) ? fmt.sign_bit() : 0;
  if (std::isnan(f)) return sign | fmt.nan_bits();
  const uint32_t overflow = mode == Saturation::saturate
                                ? fmt.max_finite_bits()
                                : (fmt.ieee_specials ? fmt.inf_bits() : fmt.nan_bits());
  if (std::isinf(f)) return sign | overflow;
  const double a = std::fabs(static_cast<double>(f));
  if (a == 0.0) return sign;

  const int min_normal_exp = 1 - fmt.bias();
  int e;
  std::frexp(a, &e);  // a = m · 2^e with m in [0.5, 1): the leading bit has weight 2^(e-1)
  int unit_exp = std::max(e - 1, min_normal_exp) - fmt.man_bits;  // weight of the last mantissa bit
  double q = std::nearbyint(std::ldexp(a, -unit_exp));            // default mode: ties to even
  uint64_t r = static_cast<uint64_t>(q);

  uint32_t bits;
  if (e - 1 < min_normal_exp) {
    // Subnormal range; r == 2^man_bits lands exactly on the smallest normal, whose encoding
    // (exponent field 1, mantissa 0) is the same integer.
    bits = static_cast<uint32_t>(r);
  } else {
    int exp_field = e - 1 + fmt.bias();
    if (r == (uint64_t{1} << (fmt.man_bits + 1))) {  // rounding carried into the next binade
      r >>= 1;
      ++exp_field;
    }
    if (exp_field > static_cast<int>(fmt.exp_mask())) return sign | overflow;
    bits = (static_cast<uint32_t>(exp_field) << fmt.man_bits) | (static_cast<uint32_t>(r) & fmt.man_mask());
  }
  if (bits > fmt.max_finite_bits()) return sign | overflow;
  return sign | bits;
}

}  // namespace

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

float f16_to_f32(uint16_t h) { return decode(kF16, h); }
// IEEE binary16 has infinities; a conversion that overflows gives ±Inf, as hardware does.
uint16_t f32_to_f16(float f) { return static_cast<uint16_t>(encode(kF16, f, Saturation::non_saturating)); }

float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

uint16_t f32_to_bf16(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x0040);  // keep sign, force quiet
  // Round to nearest even on the 16 dropped bits; a carry into the exponent is correct
  // (it may round the largest finite values up to Inf, as IEEE rounding does).
  bits += 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

float f8_e4m3fn_to_f32(uint8_t v) { return decode(kE4M3FN, v); }
uint8_t f32_to_f8_e4m3fn(float f, Saturation mode) { return static_cast<uint8_t>(encode(kE4M3FN, f, mode)); }
float f8_e5m2_to_f32(uint8_t v) { return decode(kE5M2, v); }
uint8_t f32_to_f8_e5m2(float f, Saturation mode) { return static_cast<uint8_t>(encode(kE5M2, f, mode)); }

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
