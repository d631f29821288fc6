// Exhaustive tests of the dtype conversions.
//
// The oracles here are written independently of core/src/dtype.cpp:
//  - f16 against the compiler's _Float16 (IEEE binary16, round-to-nearest-even);
//  - FP8 decoding against the OCP OFP8 v1.0 tables written out per format;
//  - every encoder against a brute-force search for the nearest representable value
//    (ties to the even code), with the "next value past the largest finite" as an overflow
//    sentinel, which is how the spec defines rounding at the top of the range.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "fathom/core/dtype.h"
#include "fathom/core/error.h"

namespace fathom {
namespace {

bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);  // distinguishes -0 and +0
}

// OCP OFP8 E4M3: bias 7; exponent 0 = subnormal m/8·2^-6; S.1111.111 = NaN; no Inf.
double e4m3_table(uint8_t b) {
  int s = b >> 7, e = (b >> 3) & 0xF, m = b & 7;
  double v;
  if (e == 15 && m == 7) return std::nan("");
  if (e == 0) v = m / 8.0 * std::pow(2.0, -6);
  else v = (1 + m / 8.0) * std::pow(2.0, e - 7);
  return s ? -v : v;
}

// OCP OFP8 E5M2: bias 15; exponent 31 = Inf (m = 0) or NaN.
double e5m2_table(uint8_t b) {
  int s = b >> 7, e = (b >> 2) & 0x1F, m = b & 3;
  double v;
  if (e == 31) v = m == 0 ? INFINITY : NAN;
  else if (e == 0) v = m / 4.0 * std::pow(2.0, -14);
  else v = (1 + m / 4.0) * std::pow(2.0, e - 15);
  return s ? -v : v;
}

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::f8_e4m3fn), 1u);
  EXPECT_EQ(dtype_size(DType::i64), 8u);
  for (uint32_t id = FATHOM_DTYPE_F32; id <= FATHOM_DTYPE_U8; ++id) {
    DType t = dtype_from_id(id);
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  }
  EXPECT_THROW(dtype_from_name("float8"), Error);
  EXPECT_THROW(dtype_from_id(0), Error);
  EXPECT_THROW(dtype_from_id(99), Error);
}

TEST(DType, E4M3DecodesEveryPattern) {
  for (int b = 0; b < 256; ++b) {
    float got = f8_e4m3fn_to_f32(static_cast<uint8_t>(b));
    EXPECT_TRUE(same_float(got, static_cast<float>(e4m3_table(static_cast<uint8_t>(b))))) << "code " << b;
  }
  EXPECT_EQ(f8_e4m3fn_to_f32(0x7E), 448.f);
  EXPECT_EQ(f8_e4m3fn_to_f32(0x01), std::ldexp(1.f, -9));
  EXPECT_TRUE(std::isnan(f8_e4m3fn_to_f32(0x7F)));
  EXPECT_TRUE(std::isnan(f8_e4m3fn_to_f32(0xFF)));
}

TEST(DType, E5M2DecodesEveryPattern) {
  for (int b = 0; b < 256; ++b) {
    float got = f8_e5m2_to_f32(static_cast<uint8_t>(b));
    EXPECT_TRUE(same_float(got, static_cast<float>(e5m2_table(static_cast<uint8_t>(b))))) << "code " << b;
  }
  EXPECT_EQ(f8_e5m2_to_f32(0x7B), 57344.f);
  EXPECT_TRUE(std::isinf(f8_e5m2_to_f32(0x7C)));
}

TEST(DType, F16DecodesEveryPattern) {
  for (uint32_t b = 0; b < 65536; ++b) {
    _Float16 h = std::bit_cast<_Float16>(static_cast<uint16_t>(b));
    ASSERT_TRUE(same_float(f16_to_f32(static_cast<uint16_t>(b)), static_cast<float>(h))) << "pattern " << b;
  }
}

TEST(DType, BF16DecodesEveryPattern) {
  for (uint32_t b = 0; b < 65536; ++b) {
    float expect = std::bit_cast<float>(b << 16);
    ASSERT_TRUE(same_float(bf16_to_f32(static_cast<uint16_t>(b)), expect)) << "pattern " << b;
  }
}

// Every non-NaN pattern survives decode → encode; NaN stays NaN.
template <typename Decode, typename Encode>
void expect_round_trip(int n_patterns, Decode decode, Encode encode) {
  for (int b = 0; b < n_patterns; ++b) {
    float v = decode(b);
    uint32_t back = encode(v);
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(decode(static_cast<int>(back)))) << "pattern " << b;
    } else {
      ASSERT_EQ(back, static_cast<uint32_t>(b)) << "pattern " << b << " value " << v;
    }
  }
}

TEST(DType, EveryPatternRoundTrips) {
  expect_round_trip(256, [](int b) { return f8_e4m3fn_to_f32(static_cast<uint8_t>(b)); },
                    [](float v) { return f32_to_f8_e4m3fn(v, Saturation::non_saturating); });
  expect_round_trip(256, [](int b) { return f8_e5m2_to_f32(static_cast<uint8_t>(b)); },
                    [](float v) { return f32_to_f8_e5m2(v, Saturation::non_saturating); });
  expect_round_trip(65536, [](int b) { return f16_to_f32(static_cast<uint16_t>(b)); },
                    [](float v) { return f32_to_f16(v); });
  expect_round_trip(65536, [](int b) { return bf16_to_f32(static_cast<uint16_t>(b)); },
                    [](float v) { return f32_to_bf16(v); });
}

// Brute-force nearest-value oracle for an FP8 format: candidates are the non-negative finite
// codes plus an overflow sentinel (the value the next code would have with an unbounded
// exponent). Ties go to the code with an even last bit.
struct Fp8Oracle {
  std::vector<std::pair<double, uint8_t>> candidates;  // ascending value, code
  double sentinel;
  uint8_t max_code;
  bool has_inf;

  uint8_t expect(float x, Saturation mode) const {
    uint8_t sign = std::signbit(x) ? 0x80 : 0;
    if (std::isnan(x)) return 0xFF;  // compared as "is NaN" by the caller
    double a = std::fabs(static_cast<double>(x));
    uint8_t overflow = mode == Saturation::saturate ? max_code : (has_inf ? 0x7C : 0x7F);
    if (std::isinf(x) || a >= sentinel) return sign | overflow;
    double best_d = std::abs(a - sentinel);
    int best = -1;  // -1 = sentinel (odd code for e4m3, even for e5m2, see below)
    bool sentinel_even = has_inf;  // e5m2's 0x7C has an even last bit; e4m3's 0x7F does not
    for (size_t i = 0; i < candidates.size(); ++i) {
      double d = std::abs(a - candidates[i].first);
      bool even = (candidates[i].second & 1) == 0;
      bool cur_even = best < 0 ? sentinel_even : (candidates[best].second & 1) == 0;
      if (d < best_d || (d == best_d && even && !cur_even)) {
        best_d = d;
        best = static_cast<int>(i);
      }
    }
    if (best < 0) return sign | overflow;
    return sign | candidates[best].second;
  }
};

Fp8Oracle make_oracle(bool e4m3) {
  Fp8Oracle o;
  o.has_inf = !e4m3;
  for (int b = 0; b < 128; ++b) {
    double v = e4m3 ? e4m3_table(static_cast<uint8_t>(b)) : e5m2_table(static_cast<uint8_t>(b));
    if (std::isfinite(v)) o.candidates.push_back({v, static_cast<uint8_t>(b)});
  }
  o.max_code = o.candidates.back().second;
  o.sentinel = e4m3 ? 480.0 : 65536.0;
  return o;
}

std::vector<float> probe_values(const std::vector<double>& grid) {
  std::vector<float> xs;
  for (size_t i = 0; i < grid.size(); ++i) {
    float v = static_cast<float>(grid[i]);
    xs.insert(xs.end(), {v, std::nextafter(v, INFINITY), std::nextafter(v, -INFINITY)});
    if (i + 1 < grid.size()) {
      float mid = static_cast<float>((grid[i] + grid[i + 1]) / 2);  // exact in f32 for these formats
      xs.insert(xs.end(), {mid, std::nextafter(mid, INFINITY), std::nextafter(mid, -INFINITY)});
    }
  }
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> exponent(-30.f, 20.f);
  for (int i = 0; i < 20000; ++i) xs.push_back(std::exp2(exponent(rng)));
  xs.insert(xs.end(), {0.f, 1e-30f, 464.f, 465.f, 479.f, 500.f, 61440.f, 61439.f, 1e30f,
                       std::numeric_limits<float>::max(), INFINITY, NAN});
  size_t n = xs.size();
  for (size_t i = 0; i < n; ++i) xs.push_back(-xs[i]);
  return xs;
}

void check_fp8_encoder(bool e4m3) {
  Fp8Oracle oracle = make_oracle(e4m3);
  std::vector<double> grid;
  for (auto& c : oracle.candidates) grid.push_back(c.first);
  grid.push_back(oracle.sentinel);
  for (Saturation mode : {Saturation::saturate, Saturation::non_saturating}) {
    for (float x : probe_values(grid)) {
      uint8_t got = e4m3 ? f32_to_f8_e4m3fn(x, mode) : f32_to_f8_e5m2(x, mode);
      uint8_t want = oracle.expect(x, mode);
      if (std::isnan(x)) {
        EXPECT_TRUE(std::isnan(e4m3 ? f8_e4m3fn_to_f32(got) : f8_e5m2_to_f32(got)));
      } else {
        ASSERT_EQ(got, want) << (e4m3 ? "e4m3fn" : "e5m2") << " x=" << x
                             << (mode == Saturation::saturate ? " saturate" : " non-saturating");
      }
    }
  }
}

TEST(DType, E4M3EncodesToNearestEven) { check_fp8_encoder(true); }
TEST(DType, E5M2EncodesToNearestEven) { check_fp8_encoder(false); }

TEST(DType, E4M3OverflowFollowsOcp) {
  EXPECT_EQ(f32_to_f8_e4m3fn(464.f, Saturation::non_saturating), 0x7E);  // tie → even (448)
  EXPECT_EQ(f32_to_f8_e4m3fn(465.f, Saturation::non_saturating), 0x7F);  // past it → NaN
  EXPECT_EQ(f32_to_f8_e4m3fn(465.f, Saturation::saturate), 0x7E);
  EXPECT_EQ(f32_to_f8_e4m3fn(-INFINITY, Saturation::saturate), 0xFE);
  EXPECT_EQ(f32_to_f8_e5m2(1e6f, Saturation::non_saturating), 0x7C);  // +Inf
  EXPECT_EQ(f32_to_f8_e5m2(1e6f, Saturation::saturate), 0x7B);
}

TEST(DType, F16EncodesLikeTheCompiler) {
  std::vector<double> grid;
  for (uint32_t b = 0; b < 0x7C00; ++b) grid.push_back(f16_to_f32(static_cast<uint16_t>(b)));
  grid.push_back(65536.0);
  for (float x : probe_values(grid)) {
    uint16_t want = std::bit_cast<uint16_t>(static_cast<_Float16>(x));
    uint16_t got = f32_to_f16(x);
    if (std::isnan(x)) EXPECT_TRUE(std::isnan(f16_to_f32(got)));
    else ASSERT_EQ(got, want) << "x=" << x;
  }
}

// bf16 oracle: the two bf16 neighbours of x (truncate, truncate + 1 ulp), the nearer one, tie
// to the even pattern.
uint16_t bf16_nearest(float x) {
  uint32_t bits = std::bit_cast<uint32_t>(x);
  uint16_t lo = static_cast<uint16_t>(bits >> 16), hi = static_cast<uint16_t>(lo + 1);
  double dlo = std::abs(static_cast<double>(x) - bf16_to_f32(lo));
  double dhi = std::abs(static_cast<double>(x) - static_cast<double>(bf16_to_f32(hi)));
  if (std::isinf(bf16_to_f32(hi)) && !std::isinf(x)) {
    // Above the largest finite bf16: IEEE rounds to Inf when x is at least halfway to 2^128.
    dhi = std::abs(static_cast<double>(x) - std::copysign(std::ldexp(1.0, 128), x));
  }
  if (dlo < dhi) return lo;
  if (dhi < dlo) return hi;
  return (lo & 1) == 0 ? lo : hi;
}

TEST(DType, BF16EncodesToNearestEven) {
  std::vector<double> grid;
  for (uint32_t b = 0; b < 0x7F80; b += 7) grid.push_back(bf16_to_f32(static_cast<uint16_t>(b)));
  for (float x : probe_values(grid)) {
    if (std::isnan(x) || std::isinf(x)) continue;
    ASSERT_EQ(f32_to_bf16(x), bf16_nearest(x)) << "x=" << x;
  }
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  EXPECT_EQ(f32_to_bf16(INFINITY), 0x7F80);
}

TEST(DType, BulkConversionsMatchScalar) {
  std::vector<float> src = {0.f, -1.5f, 3.14159f, 448.f, 1e-3f, -7.f};
  std::vector<uint8_t> f8(src.size());
  convert_from_f32(DType::f8_e4m3fn, src.data(), f8.data(), src.size());
  std::vector<float> back(src.size());
  convert_to_f32(DType::f8_e4m3fn, f8.data(), back.data(), src.size());
  for (size_t i = 0; i < src.size(); ++i) EXPECT_EQ(back[i], f8_e4m3fn_to_f32(f32_to_f8_e4m3fn(src[i])));
  std::vector<int32_t> ints = {-3, 0, 7};
  std::vector<float> fi(3);
  convert_to_f32(DType::i32, ints.data(), fi.data(), 3);
  EXPECT_EQ(fi[0], -3.f);
  EXPECT_EQ(fi[2], 7.f);
}

}  // namespace
}  // namespace fathom
