// Exact conversions between f32 and the small float formats (f16, bf16, FP8 e4m3fn/e5m2).
//
// Header-only so that backends (which depend on nothing but plugins/) and the core share one
// implementation. Rounding is to nearest, ties to even; FP8 follows OCP OFP8 v1.0 (see
// core/include/fathom/core/dtype.h for the overflow rules).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace fathom::sdk::floats {

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

inline float decode(const SmallFloat& fmt, uint32_t bits) {
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
inline uint32_t encode(const SmallFloat& fmt, float f, bool saturate) {
  const uint32_t sign = std::signbit(f) ? fmt.sign_bit() : 0;
  if (std::isnan(f)) return sign | fmt.nan_bits();
  const uint32_t overflow = saturate
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

inline float f16_to_f32(uint16_t h) { return decode(kF16, h); }
// IEEE binary16 has infinities; a conversion that overflows gives ±Inf, as hardware does.
inline uint16_t f32_to_f16(float f) { return static_cast<uint16_t>(encode(kF16, f, false)); }

inline float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x0040);  // keep sign, force quiet
  // Round to nearest even on the 16 dropped bits; a carry into the exponent is correct
  // (it may round the largest finite values up to Inf, as IEEE rounding does).
  bits += 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

inline float e4m3fn_to_f32(uint8_t v) { return decode(kE4M3FN, v); }
inline uint8_t f32_to_e4m3fn(float f, bool saturate) { return static_cast<uint8_t>(encode(kE4M3FN, f, saturate)); }
inline float e5m2_to_f32(uint8_t v) { return decode(kE5M2, v); }
inline uint8_t f32_to_e5m2(float f, bool saturate) { return static_cast<uint8_t>(encode(kE5M2, f, saturate)); }

}  // namespace fathom::sdk::floats
