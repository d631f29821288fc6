// The cpu backend's quantised weights (weights = "int8" | "int4"; backends/cpu/isa/quant.h):
// the quantiser against the format's definition, the kernels of every table this CPU can run
// against sums in double of the dequantised weights, and Matrix (quantised at construction) on
// both of its paths, GEMV and tiles.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cpu_context.h"
#include "fathom/sdk/float_formats.hpp"
#include "isa/int8_dot.h"
#include "isa/isa.h"
#include "isa/quant.h"
#include "fathom/sdk/ggml_blocks.hpp"
#include "matmul/grid_rows.h"
#include "matmul/matrix.h"

namespace fathom::cpu {
namespace {

namespace floats = sdk::floats;

constexpr WFormat kFormats[] = {WFormat::q8, WFormat::q4};
// The formats the *_q kernels read: those, and iq4 (IQ4_NL's nibbles, indices into kIq4Values).
constexpr WFormat kKernelFormats[] = {WFormat::q8, WFormat::q4, WFormat::iq4};

std::string name_of(WFormat f) {
  switch (f) {
    case WFormat::q8: return "q8";
    case WFormat::q4: return "q4";
    case WFormat::iq4: return "iq4";
    case WFormat::q4k: return "q4k";
    case WFormat::q6k: return "q6k";
    case WFormat::q5k: return "q5k";
    case WFormat::q3k: return "q3k";
    case WFormat::q2k: return "q2k";
    case WFormat::iq4k: return "iq4k";
    default: return "float";
  }
}

// The K formats, each with and without mins as its K-quant has them (Q4_K both ways, for tests of
// the tiles' two paths): q6k, q3k and iq4k stand for signed codes with no mins, q5k and q2k have
// mins.
constexpr WFormat kKFormats[] = {WFormat::q4k, WFormat::q6k, WFormat::q5k, WFormat::q3k, WFormat::q2k, WFormat::iq4k};
bool as_the_k_quants(WFormat fmt, bool with_mins) {
  if (fmt == WFormat::q4k) return true;
  if (fmt == WFormat::iq4k) return !with_mins;
  return with_mins == (packed_offset(fmt) == 0);
}
// The range of a K format's stored codes (iq4k's: the indices into kIq4Values).
std::pair<int, int> code_range(WFormat fmt) {
  if (!packed_k(fmt)) return {0, 15};
  const int top = (packed_nibbles(fmt) ? 1 << (4 + packed_planes(fmt)) : 1 << packed_planes(fmt)) - 1;
  return {-packed_offset(fmt), top - packed_offset(fmt)};
}

// Groups a quantiser must handle: normal values, an outlier, all zeros, values far below f16's
// normal range, and a single nonzero weight.
std::vector<std::vector<float>> test_groups(std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<std::vector<float>> out;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> g(kQuantGroup);
    for (float& v : g) v = normal(rng) * 0.02f;
    if (i % 7 == 3) g[static_cast<size_t>(i % kQuantGroup)] = 0.5f;   // an outlier
    if (i % 11 == 5) g[static_cast<size_t>(i % kQuantGroup)] = -0.5f;
    out.push_back(g);
  }
  out.push_back(std::vector<float>(kQuantGroup, 0.f));
  std::vector<float> tiny(kQuantGroup);
  for (float& v : tiny) v = normal(rng) * 1e-7f;
  out.push_back(tiny);
  std::vector<float> one(kQuantGroup, 0.f);
  one[9] = -3.0f;
  out.push_back(one);
  return out;
}

// Every weight comes back within half a step of the scale (rounding to the nearest code), except
// where the code range clips: q4's one-sided range leaves +8 · d unreachable, so a weight of the
// largest magnitude with the sign opposite to m's is off by up to one step. The f16 rounding of d
// adds at most 2^-11 of the largest magnitude, or, where d is an f16 subnormal (or flushes to 0),
// up to the largest code times half the smallest subnormal (2^-25).
TEST(QuantizeGroup, EveryWeightWithinHalfAStep) {
  std::mt19937 rng(3);
  for (WFormat fmt : kFormats) {
    for (const std::vector<float>& g : test_groups(rng)) {
      std::vector<uint8_t> codes(kQuantGroup);
      const uint16_t bits = quant::quantize_group(fmt, g.data(), codes.data());
      const double d = floats::f16_to_f32(bits);
      double amax = 0;
      for (float v : g) amax = std::max(amax, std::fabs(static_cast<double>(v)));
      const int top = fmt == WFormat::q8 ? 127 : 8;
      // d as the format defines it, before its f16 rounding (f16 subnormals: an absolute step).
      EXPECT_NEAR(std::fabs(d), amax / top, amax / top * 1e-3 + 6e-8) << name_of(fmt);
      for (int64_t i = 0; i < kQuantGroup; ++i) {
        const double back = quant::dequantised(fmt, codes.data(), &bits, i);
        const double q = g[static_cast<size_t>(i)] / d;
        const bool clipped = fmt == WFormat::q4 && q > 7.5;  // the code +8 does not exist
        const double bound = (clipped ? 1.0 : 0.5) * std::fabs(d) + amax * 0x1p-10 + top * 0x1p-25;
        ASSERT_LE(std::fabs(back - g[static_cast<size_t>(i)]), bound) << name_of(fmt) << " weight " << i;
      }
    }
  }
}

// Weights that are already whole multiples of an f16-exact step come back exactly, each to the
// code that stands for it, in the documented byte layout.
TEST(QuantizeGroup, RepresentableWeightsRoundTripInTheDocumentedLayout) {
  const float step = 0.0078125f;  // 2^-7, exact in f16
  std::vector<float> g(kQuantGroup);
  // q4: codes -8..7 twice (so the weight of largest magnitude is -8 · step, as its d requires).
  for (int64_t i = 0; i < kQuantGroup; ++i) g[static_cast<size_t>(i)] = static_cast<float>(i % 16 - 8) * step;
  std::vector<uint8_t> codes(kQuantGroup);
  const uint16_t bits = quant::quantize_group(WFormat::q4, g.data(), codes.data());
  EXPECT_EQ(floats::f16_to_f32(bits), step);
  for (int64_t j = 0; j < 16; ++j) {
    // byte j: weight j (code j % 16 - 8, stored + 8) low, weight j + 16 high
    EXPECT_EQ(codes[static_cast<size_t>(j)], static_cast<uint8_t>(j | j << 4)) << "byte " << j;
  }
  // q8: -127..127 in steps, d = 127 · step / 127.
  for (int64_t i = 0; i < kQuantGroup; ++i) g[static_cast<size_t>(i)] = static_cast<float>(i * 8 - 127) * step;
  g[0] = -127 * step;
  const uint16_t bits8 = quant::quantize_group(WFormat::q8, g.data(), codes.data());
  EXPECT_EQ(floats::f16_to_f32(bits8), step);
  for (int64_t i = 0; i < kQuantGroup; ++i) {
    EXPECT_EQ(static_cast<int8_t>(codes[static_cast<size_t>(i)]), static_cast<int8_t>(i * 8 - 127)) << "weight " << i;
    EXPECT_EQ(quant::dequantised(WFormat::q8, codes.data(), &bits8, i), g[static_cast<size_t>(i)]);
  }
}

// Rows of a quantised matrix and the exact values of its weights.
struct QuantRows {
  std::vector<uint8_t> codes;
  std::vector<uint16_t> scales;
  std::vector<double> value;  // rows × k
};

QuantRows quantize_rows(WFormat fmt, int64_t rows, int64_t k, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  const int64_t groups = k / kQuantGroup, rb = row_bytes(fmt, k);
  QuantRows q{std::vector<uint8_t>(static_cast<size_t>(rows * rb)), std::vector<uint16_t>(static_cast<size_t>(rows * groups)),
              std::vector<double>(static_cast<size_t>(rows * k))};
  std::vector<float> w(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : w) v = normal(rng);
    for (int64_t g = 0; g < groups; ++g) {
      // iq4: q4's codes, read as indices into the table (every nibble occurs)
      q.scales[static_cast<size_t>(r * groups + g)] = quant::quantize_group(
          fmt == WFormat::iq4 ? WFormat::q4 : fmt, w.data() + g * kQuantGroup, q.codes.data() + r * rb + g * (rb / groups));
    }
    for (int64_t c = 0; c < k; ++c) {
      q.value[static_cast<size_t>(r * k + c)] =
          quant::dequantised(fmt, q.codes.data() + r * rb, q.scales.data() + r * groups, c);
    }
  }
  return q;
}

// y against Σ x·w in double; f32 sums in any order stay within K + 1 roundings of Σ|x·w|.
void expect_sums(const std::vector<float>& y, int64_t ldy, const std::vector<float>& x, int64_t ldx, const QuantRows& q,
                 int64_t rows_x, int64_t rows_w, int64_t k, const std::string& what) {
  for (int64_t m = 0; m < rows_x; ++m) {
    for (int64_t r = 0; r < rows_w; ++r) {
      double sum = 0, magnitude = 0;
      for (int64_t c = 0; c < k; ++c) {
        const double p = x[static_cast<size_t>(m * ldx + c)] * q.value[static_cast<size_t>(r * k + c)];
        sum += p, magnitude += std::fabs(p);
      }
      ASSERT_LE(std::fabs(y[static_cast<size_t>(m * ldy + r)] - sum), static_cast<double>(k + 1) * std::ldexp(magnitude, -23) + 1e-30)
          << what << ": M " << rows_x << ", N " << rows_w << ", K " << k << ", y[" << m << "][" << r << "]";
    }
    for (int64_t r = rows_w; r < ldy; ++r) ASSERT_EQ(y[static_cast<size_t>(m * ldy + r)], -7.f) << what << ": wrote into y's stride gap";
  }
}

class QuantKernels : public ::testing::TestWithParam<Isa> {};

TEST_P(QuantKernels, GemvMatchesExactSumsOfDequantisedWeights) {
  if (!cpu_supports(GetParam())) GTEST_SKIP() << "this CPU cannot run the " << isa_name(GetParam()) << " kernels";
  const IsaKernels& isa = kernels_for(GetParam());
  std::mt19937 rng(23);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (WFormat fmt : kKernelFormats)
    for (int64_t m : {1, 2, 3, 4, 5, 9})
      for (int64_t n : {1, 7, 8, 9, 17, 24})
        for (int64_t k : {32, 64, 96, 160, 544}) {
          const QuantRows q = quantize_rows(fmt, n, k, rng);
          const int64_t ldx = k + 5, ldy = n + 2;
          std::vector<float> x(static_cast<size_t>(m * ldx));
          for (float& v : x) v = normal(rng);
          std::vector<float> y(static_cast<size_t>(m * ldy), -7.f);
          isa.gemv_q(fmt, q.codes.data(), q.scales.data(), n, k, x.data(), ldx, m, y.data(), ldy);
          expect_sums(y, ldy, x, ldx, q, m, n, k, std::string(isa.name) + " gemv_q " + name_of(fmt));
        }
}

TEST_P(QuantKernels, WidenGivesTheDequantisedWeightsExactly) {
  if (!cpu_supports(GetParam())) GTEST_SKIP() << "this CPU cannot run the " << isa_name(GetParam()) << " kernels";
  const IsaKernels& isa = kernels_for(GetParam());
  std::mt19937 rng(29);
  for (WFormat fmt : kKernelFormats) {
    const QuantRows q = quantize_rows(fmt, 1, 320, rng);
    std::vector<float> out(321, -7.f);
    isa.widen_q(fmt, q.codes.data(), q.scales.data(), out.data(), 320);
    for (size_t i = 0; i < 320; ++i) ASSERT_EQ(out[i], q.value[i]) << isa.name << " widen_q " << name_of(fmt) << ", weight " << i;
    EXPECT_EQ(out[320], -7.f) << "wrote past the row";
  }
}

// The K formats in K-quant-shaped rows (two levels of scales, isa.h), random codes and integers.
struct KRowsFixture {
  WFormat fmt;
  int64_t n, k;
  std::vector<uint8_t> codes;
  std::vector<float> d, dmin;
  std::vector<int8_t> scale, min;
  KScales scales() const { return {d.data(), dmin.empty() ? nullptr : dmin.data(), scale.data(), min.empty() ? nullptr : min.data()}; }
};

KRowsFixture k_rows(WFormat fmt, bool with_mins, int64_t n, int64_t k, std::mt19937& rng) {
  KRowsFixture f{fmt, n, k, std::vector<uint8_t>(static_cast<size_t>(n * row_bytes(fmt, k))), {}, {}, {}, {}};
  std::uniform_int_distribution<int> byte(0, 255), integer(with_mins ? 0 : -128, with_mins ? 63 : 127);
  std::uniform_real_distribution<float> positive(0.0001f, 0.001f);
  for (uint8_t& b : f.codes) b = static_cast<uint8_t>(byte(rng));
  // d and dmin are f16 values, as in the files: the products with the integers are then exact.
  auto f16_value = [&] { return floats::f16_to_f32(floats::f32_to_f16(positive(rng))); };
  f.d.resize(static_cast<size_t>(n * k / kKSuperBlock));
  for (float& v : f.d) v = f16_value();
  f.scale.resize(static_cast<size_t>(n * k / kquant_sub_block(fmt)));
  for (int8_t& v : f.scale) v = static_cast<int8_t>(integer(rng));
  if (with_mins) {
    f.dmin.resize(f.d.size());
    for (float& v : f.dmin) v = f16_value();
    f.min.resize(f.scale.size());
    for (int8_t& v : f.min) v = static_cast<int8_t>(integer(rng));
  }
  return f;
}

// Widening gives the reference's value of every weight bit for bit (quant.h's plain code, which
// computes it as sdk/ggml_blocks.hpp does), and the f32 GEMV the product with those values.
TEST_P(QuantKernels, KFormatsWidenExactlyAndMultiply) {
  if (!cpu_supports(GetParam())) GTEST_SKIP() << "this CPU cannot run the " << isa_name(GetParam()) << " kernels";
  const IsaKernels& isa = kernels_for(GetParam());
  std::mt19937 rng(53);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (WFormat fmt : kKFormats)
    for (bool with_mins : {true, false}) {
      if (!as_the_k_quants(fmt, with_mins)) continue;
      const int64_t n = 11, k = 768, m = 3, sub = kquant_sub_block(fmt);
      const KRowsFixture f = k_rows(fmt, with_mins, n, k, rng);
      std::vector<float> want(static_cast<size_t>(n * k)), got(static_cast<size_t>(n * k) + 1, -7.f);
      for (int64_t r = 0; r < n; ++r) {
        const uint8_t* row = f.codes.data() + r * row_bytes(fmt, k);
        quant::widen_k_row(fmt, row, f.scales().from_row(r, k, sub), want.data() + r * k, k);
        isa.widen_k(fmt, row, f.scales().from_row(r, k, sub), got.data() + r * k, k);
      }
      const std::string what = name_of(fmt) + (with_mins ? " with mins" : "");
      for (int64_t i = 0; i < n * k; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], want[static_cast<size_t>(i)]) << what << " weight " << i;
      ASSERT_EQ(got.back(), -7.f) << what << ": wrote past the rows";
      std::vector<float> x(static_cast<size_t>(m * k));
      for (float& v : x) v = normal(rng);
      std::vector<float> y(static_cast<size_t>(m * n));
      isa.gemv_k(fmt, f.codes.data(), f.scales(), n, k, x.data(), k, m, y.data(), n);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t r = 0; r < n; ++r) {
          double exact = 0, magnitude = 0;
          for (int64_t c = 0; c < k; ++c) {
            exact += static_cast<double>(x[static_cast<size_t>(i * k + c)]) * want[static_cast<size_t>(r * k + c)];
            magnitude += std::fabs(static_cast<double>(x[static_cast<size_t>(i * k + c)]) * want[static_cast<size_t>(r * k + c)]);
          }
          EXPECT_NEAR(y[static_cast<size_t>(i * n + r)], exact, magnitude * 1e-5) << what << " y[" << i << "][" << r << "]";
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Tables, QuantKernels, ::testing::Values(Isa::scalar, Isa::avx2, Isa::avx512),
                         [](const ::testing::TestParamInfo<Isa>& i) { return std::string(isa_name(i.param)); });

// x as int8_dot.h defines its quantisation (x_grid): per group along K, codes
// nearest(x · (levels / a)) with ties to even and scale a / levels, a = max |x| of the group (all
// zero for a = 0); groups of 32 and 127 levels, or for prefill on the packed K formats groups of
// 256 and 16383.
struct QuantisedX {
  std::vector<int> code;     // rows × k
  std::vector<double> step;  // rows × groups
  int64_t group;
  // The step of element c of row m.
  double step_at(int64_t m, int64_t k, int64_t c) const { return step[static_cast<size_t>(m * (k / group) + c / group)]; }
};

QuantisedX quantise_x(const std::vector<float>& x, int64_t ldx, int64_t rows, int64_t k, XGrid grid = {kQuantGroup, 127}) {
  const int64_t n = grid.group, groups = k / n;
  QuantisedX q{std::vector<int>(static_cast<size_t>(rows * k)), std::vector<double>(static_cast<size_t>(rows * groups)), n};
  const float levels = static_cast<float>(grid.levels);
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t g = 0; g < groups; ++g) {
      const float* xg = x.data() + m * ldx + g * n;
      float a = 0;
      for (int64_t i = 0; i < n; ++i) a = std::max(a, std::fabs(xg[i]));
      if (a == 0) continue;
      const float inv = levels / a;
      for (int64_t i = 0; i < n; ++i) q.code[static_cast<size_t>(m * k + g * n + i)] = static_cast<int>(std::nearbyint(xg[i] * inv));
      q.step[static_cast<size_t>(m * groups + g)] = a / levels;
    }
  return q;
}

// Memory for the laid-out x: the kernels load it with aligned loads.
struct Aligned {
  std::vector<uint8_t> bytes;
  uint8_t* data;
  explicit Aligned(size_t n) : bytes(n + 64) {
    data = bytes.data() + (64 - reinterpret_cast<uintptr_t>(bytes.data()) % 64) % 64;
  }
};

// The vpdpbusd kernels: y against Σ_g dw · dx · Σ q_w · c_x, the integer sums exact and the f32
// scaling and summing of the groups within a few roundings; and against Σ x · w with the
// dequantised weights, off by no more than x's rounding (half a step per element) allows.
// Each set of integer kernels this CPU can run: AVX512_VNNI's vpdpbusd, AVX2's vpmaddubsw.
enum class DotKernels { avx512_vnni, avx2 };

class Int8DotGemv : public ::testing::TestWithParam<DotKernels> {
 protected:
  const Int8DotKernels* kernels() const {
    if (GetParam() == DotKernels::avx512_vnni) return cpu_supports_avx512_vnni() ? &avx512_vnni_int8_dot() : nullptr;
    return cpu_supports(Isa::avx2) ? &avx2_int8_dot() : nullptr;
  }
};

TEST_P(Int8DotGemv, MatchesTheIntegerSumsOfQuantisedXAndWeights) {
  if (!kernels()) GTEST_SKIP() << "this CPU cannot run these kernels";
  const Int8DotKernels& dot = *kernels();
  std::mt19937 rng(37);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (WFormat fmt : kKernelFormats)
    for (int64_t m : {1, 2, 3, 4, 5, 9})
      for (int64_t n : {1, 7, 8, 9, 17, 24})
        for (int64_t k : {32, 64, 96, 128, 160, 544, 2048}) {
          const QuantRows w = quantize_rows(fmt, n, k, rng);
          const int64_t ldx = k + 3, ldy = n + 2, groups = k / kQuantGroup;
          std::vector<float> x(static_cast<size_t>(m * ldx));
          for (float& v : x) v = normal(rng);
          if (m > 2) std::fill(x.begin() + ldx, x.begin() + ldx + kQuantGroup, 0.f);  // a group of zeros
          const int64_t xb = dot.x_row_bytes(fmt, k, m);
          Aligned xq(static_cast<size_t>(m * xb));
          dot.quantize_rows(fmt, x.data(), ldx, m, k, xq.data);
          std::vector<float> y(static_cast<size_t>(m * ldy), -7.f);
          dot.gemv(fmt, w.codes.data(), w.scales.data(), n, k, xq.data, m, y.data(), ldy);
          const QuantisedX q = quantise_x(x, ldx, m, k);
          const std::string what = std::string(GetParam() == DotKernels::avx2 ? "avx2 " : "vnni ") + name_of(fmt) + ": M " + std::to_string(m) + ", N " + std::to_string(n) +
                                   ", K " + std::to_string(k);
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t r = 0; r < n; ++r) {
              double want = 0, magnitude = 0, exact = 0, rounding = 0;
              for (int64_t g = 0; g < groups; ++g) {
                const double dw = floats::f16_to_f32(w.scales[static_cast<size_t>(r * groups + g)]);
                const double dx = q.step[static_cast<size_t>(i * groups + g)];
                double integer = 0, integer_magnitude = 0, weight_sum = 0;
                for (int64_t c = g * kQuantGroup; c < (g + 1) * kQuantGroup; ++c) {
                  const double wv = w.value[static_cast<size_t>(r * k + c)];
                  const double product = std::nearbyint(wv / dw) * q.code[static_cast<size_t>(i * k + c)];
                  integer += product;
                  integer_magnitude += std::fabs(product);
                  exact += x[static_cast<size_t>(i * ldx + c)] * wv;
                  weight_sum += std::fabs(wv);
                }
                want += dw * dx * integer;
                // The lanes' partial sums, each scaled and rounded, can exceed the group's total.
                magnitude += std::fabs(dw * dx) * integer_magnitude;
                rounding += dx / 2 * weight_sum;
              }
              const double got = y[static_cast<size_t>(i * ldy + r)];
              ASSERT_LE(std::fabs(got - want), static_cast<double>(groups + 3) * std::ldexp(magnitude, -23) + 1e-30)
                  << what << ", y[" << i << "][" << r << "] against the integer sums";
              ASSERT_LE(std::fabs(got - exact), rounding * (1 + 1e-5) + static_cast<double>(groups + 3) * std::ldexp(magnitude, -23))
                  << what << ", y[" << i << "][" << r << "] against the f32 product";
            }
            for (int64_t r = n; r < ldy; ++r) ASSERT_EQ(y[static_cast<size_t>(i * ldy + r)], -7.f) << what << ": wrote into y's stride gap";
          }
        }
}

// A NaN among the activations makes the products NaN, as with f32 activations; it must not be
// quantised away (max |x| passes over NaNs) into a finite, wrong result.
TEST_P(Int8DotGemv, ANanActivationGivesNanProducts) {
  if (!kernels()) GTEST_SKIP() << "this CPU cannot run these kernels";
  const Int8DotKernels& dot = *kernels();
  std::mt19937 rng(43);
  for (WFormat fmt : kKernelFormats) {
    const int64_t n = 9, k = 160;
    const QuantRows w = quantize_rows(fmt, n, k, rng);
    std::vector<float> x(static_cast<size_t>(k), 0.5f);
    x[70] = std::nanf("");
    Aligned xq(static_cast<size_t>(dot.x_row_bytes(fmt, k, 1)));
    dot.quantize_rows(fmt, x.data(), k, 1, k, xq.data);
    std::vector<float> y(static_cast<size_t>(n));
    dot.gemv(fmt, w.codes.data(), w.scales.data(), n, k, xq.data, 1, y.data(), n);
    for (int64_t r = 0; r < n; ++r) EXPECT_TRUE(std::isnan(y[static_cast<size_t>(r)])) << name_of(fmt) << " y[" << r << "] = " << y[static_cast<size_t>(r)];
  }
}

// The K formats (GGUF's K-quants unpacked: code · scale − min per sub-block, scale = d · integer
// scale): y against Σ_s dx · (scale_s · Σ code · c − min_s · Σ c), the integer sums exact, with
// and without mins, q4k's nibbles (codes 0-15, sub-blocks of 32) and the packed formats' codes
// (sub-blocks of 16), K of one and of three blocks of 256 (each with its own d).
TEST_P(Int8DotGemv, KFormatsMatchTheIntegerSumsOfQuantisedXAndWeights) {
  if (!kernels()) GTEST_SKIP() << "this CPU cannot run these kernels";
  const Int8DotKernels& dot = *kernels();
  std::mt19937 rng(41);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> positive(0.001f, 0.01f);
  for (WFormat fmt : kKFormats)
    for (bool with_mins : {true, false})
      for (int64_t m : {1, 3, 5, 9})
        for (int64_t n : {1, 9, 17})
          for (int64_t k : {256, 768}) {
            if (!as_the_k_quants(fmt, with_mins)) continue;
            const int64_t sub = kquant_sub_block(fmt), subs = k / sub, rb = row_bytes(fmt, k);
            std::uniform_int_distribution<int> code_of(code_range(fmt).first, code_range(fmt).second);
            std::vector<int> code(static_cast<size_t>(n * k));
            std::vector<uint8_t> codes(static_cast<size_t>(n * rb));
            for (int64_t r = 0; r < n; ++r)
              for (int64_t c = 0; c < k; ++c) {
                const int q = code_of(rng);
                code[static_cast<size_t>(r * k + c)] = fmt == WFormat::iq4k ? kIq4Values[q] : q;
                if (packed_k(fmt)) {
                  quant::set_code_packed(fmt, codes.data() + r * rb, c, q);
                } else {
                  const int64_t g = c / kQuantGroup, j = c % kQuantGroup;
                  codes[static_cast<size_t>(r * rb + g * 16 + j % 16)] |= static_cast<uint8_t>(j < 16 ? q : q << 4);
                }
              }
            // The two levels (isa.h KScales): f32 per 256, integers per sub-block (Q6_K's signed).
            const int64_t supers = k / kKSuperBlock;
            std::vector<float> d(static_cast<size_t>(n * supers)), dmin(static_cast<size_t>(n * supers));
            std::vector<int8_t> sub_scale(static_cast<size_t>(n * subs)), sub_min(static_cast<size_t>(n * subs));
            std::uniform_int_distribution<int> integer(packed_offset(fmt) != 0 || fmt == WFormat::iq4k ? -128 : 0, with_mins ? 63 : 127);
            for (float& v : d) v = positive(rng) / 16;
            for (float& v : dmin) v = positive(rng) / 8;
            for (int8_t& v : sub_scale) v = static_cast<int8_t>(integer(rng));
            for (int8_t& v : sub_min) v = static_cast<int8_t>(integer(rng));
            const KScales scales{d.data(), with_mins ? dmin.data() : nullptr, sub_scale.data(), with_mins ? sub_min.data() : nullptr};
            const int64_t ldx = k + 5, ldy = n + 1;
            std::vector<float> x(static_cast<size_t>(m * ldx));
            for (float& v : x) v = normal(rng);
            Aligned xq(static_cast<size_t>(m * dot.x_row_bytes(fmt, k, m)));
            dot.quantize_rows(fmt, x.data(), ldx, m, k, xq.data);
            std::vector<float> y(static_cast<size_t>(m * ldy), -7.f);
            // With more than four rows of x, the packed formats' rows are rebuilt into `expand` first.
            Aligned expand(static_cast<size_t>(kExpandBytesPerWeight * k));
            dot.gemv_k(fmt, codes.data(), scales, n, k, xq.data, m, y.data(), ldy, expand.data);
            const QuantisedX q = quantise_x(x, ldx, m, k, x_grid(fmt, m));
            const std::string what = std::string(name_of(fmt)) + (with_mins ? " with mins" : "") + ": M " + std::to_string(m) +
                                     ", N " + std::to_string(n) + ", K " + std::to_string(k);
            for (int64_t i = 0; i < m; ++i) {
              for (int64_t r = 0; r < n; ++r) {
                double want = 0, magnitude = 0;
                for (int64_t s = 0; s < subs; ++s) {
                  const double dx = q.step_at(i, k, s * sub);
                  double products = 0, sum = 0, products_magnitude = 0;
                  for (int64_t c = s * sub; c < (s + 1) * sub; ++c) {
                    const double cx = q.code[static_cast<size_t>(i * k + c)];
                    products += code[static_cast<size_t>(r * k + c)] * cx;
                    products_magnitude += std::fabs(code[static_cast<size_t>(r * k + c)] * cx);
                    sum += cx;
                  }
                  const size_t super = static_cast<size_t>(r * supers + s * sub / kKSuperBlock), at = static_cast<size_t>(r * subs + s);
                  const double scale = d[super] * sub_scale[at], min = with_mins ? dmin[super] * sub_min[at] : 0.0;
                  want += dx * (scale * products - min * sum);
                  magnitude += dx * (std::fabs(scale) * products_magnitude + min * std::fabs(sum));
                }
                ASSERT_LE(std::fabs(y[static_cast<size_t>(i * ldy + r)] - want), static_cast<double>(subs + 3) * std::ldexp(magnitude, -22))
                    << what << ", y[" << i << "][" << r << "]";
              }
              ASSERT_EQ(y[static_cast<size_t>(i * ldy + n)], -7.f) << what << ": wrote into y's stride gap";
            }
          }
}

// y ([m][n], stride n + 1, the gap set to −7) against rows rebuilt as 16-bit integers w ([n][k]) with
// one factor per block of 256: Σ_b factor[r][b] · dx[i][b] · Σ w · c, the integer sums exact and the
// f32 scaling and summing of the blocks within a few roundings; the stride gap untouched.
::testing::AssertionResult matches_block_sums(const std::vector<float>& y, const int16_t* w, const float* factor,
                                              const QuantisedX& q, int64_t m, int64_t n, int64_t k) {
  const int64_t blocks = k / kKSuperBlock;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t r = 0; r < n; ++r) {
      double want = 0, magnitude = 0;
      for (int64_t b = 0; b < blocks; ++b) {
        double products = 0, products_magnitude = 0;
        for (int64_t c = b * kKSuperBlock; c < (b + 1) * kKSuperBlock; ++c) {
          const double p = static_cast<double>(w[r * k + c]) * q.code[static_cast<size_t>(i * k + c)];
          products += p;
          products_magnitude += std::fabs(p);
        }
        const double scale = factor[r * blocks + b] * q.step_at(i, k, b * kKSuperBlock);
        want += scale * products;
        magnitude += scale * products_magnitude;
      }
      const float got = y[static_cast<size_t>(i * (n + 1) + r)];
      if (!(std::fabs(got - want) <= static_cast<double>(blocks + 3) * std::ldexp(magnitude, -22))) {
        return ::testing::AssertionFailure() << "y[" << i << "][" << r << "] = " << got << ", want " << want;
      }
    }
    if (y[static_cast<size_t>(i * (n + 1) + n)] != -7.f) return ::testing::AssertionFailure() << "wrote into y's stride gap";
  }
  return ::testing::AssertionSuccess();
}

// The I-quants below 4 bits (grid_k): rows rebuilt as 16-bit integers with one factor per block
// of 256 (matmul/grid_rows.h), times x at 16 bits per block at every M: against the integer sums of
// x quantised on the grid the kernels declare, scaled per block.
TEST_P(Int8DotGemv, RebuiltGridRowsMatchTheIntegerSumsOfQuantisedX) {
  if (!kernels()) GTEST_SKIP() << "this CPU cannot run these kernels";
  const Int8DotKernels& dot = *kernels();
  std::mt19937 rng(43);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_int_distribution<int> integer(-62 * 31, 62 * 31);  // IQ3_XXS's largest
  std::uniform_real_distribution<float> positive(1e-5f, 1e-4f);
  const WFormat fmt = WFormat::iq2xxs;
  for (int64_t m : {1, 3, 5})
    for (int64_t n : {1, 9})
      for (int64_t k : {256, 768}) {
        ASSERT_TRUE(wide_x(fmt, m));
        const int64_t blocks = k / kKSuperBlock;
        Aligned rows(static_cast<size_t>(2 * n * k));
        auto* w = reinterpret_cast<int16_t*>(rows.data);
        for (int64_t i = 0; i < n * k; ++i) w[i] = static_cast<int16_t>(integer(rng));
        std::vector<float> factor(static_cast<size_t>(n * blocks));
        for (float& f : factor) f = positive(rng);
        std::vector<float> x(static_cast<size_t>(m * k));
        for (float& v : x) v = normal(rng);
        Aligned xq(static_cast<size_t>(m * dot.x_row_bytes(fmt, k, m)));
        dot.quantize_rows(fmt, x.data(), k, m, k, xq.data);
        std::vector<float> y(static_cast<size_t>(m * (n + 1)), -7.f);
        dot.gemv_wide(w, factor.data(), n, k, xq.data, m, y.data(), n + 1);
        const QuantisedX q = quantise_x(x, k, m, k, x_grid(fmt, m));
        const std::string what = "M " + std::to_string(m) + ", N " + std::to_string(n) + ", K " + std::to_string(k);
        EXPECT_TRUE(matches_block_sums(y, w, factor.data(), q, m, n, k)) << what;
      }
}

constexpr WFormat kGridFormats[] = {WFormat::iq2xxs, WFormat::iq2xs, WFormat::iq2s, WFormat::iq3xxs,
                                    WFormat::iq3s,   WFormat::iq1s,  WFormat::iq1m};

// Rows of an I-quant below 4 bits in GGUF's blocks: every byte random — every index, sign, scale
// and IQ1 shift — but d, a sane f16 (IQ1_M's in the top nibbles of its four u16 of scales).
std::vector<std::byte> random_grid_rows(WFormat fmt, int64_t rows, int64_t k, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> positive(1e-4f, 1e-2f);
  const int64_t block_bytes = grid_block_bytes(fmt);
  std::vector<std::byte> w(static_cast<size_t>(rows * row_bytes(fmt, k)));
  for (auto& v : w) v = static_cast<std::byte>(byte(rng));
  for (int64_t b = 0; b < rows * k / kKSuperBlock; ++b) {
    const uint16_t d = sdk::floats::f32_to_f16(positive(rng));
    std::byte* block = w.data() + b * block_bytes;
    if (fmt != WFormat::iq1m) {
      std::memcpy(block, &d, 2);
      continue;
    }
    for (int i = 0; i < 4; ++i) {
      uint16_t u = 0;
      std::memcpy(&u, block + 48 + 2 * i, 2);
      u = static_cast<uint16_t>((u & 0x0FFF) | ((d >> (4 * i)) & 0xF) << 12);
      std::memcpy(block + 48 + 2 * i, &u, 2);
    }
  }
  return w;
}

// The integer kernels' own reading of the I-quants' blocks (isa/grid_expand.inc) gives every weight
// as the SDK's reader does (the reference's; tests/gguf checks that one against gguf-py).
TEST_P(Int8DotGemv, ExpandedGridRowsAreTheSdksWeights) {
  if (!kernels()) GTEST_SKIP() << "this CPU cannot run these kernels";
  const Int8DotKernels& dot = *kernels();
  std::mt19937 rng(53);
  const int64_t rows = 3, k = 512, blocks = k / kKSuperBlock;
  for (WFormat fmt : kGridFormats) {
    const uint32_t layout = grid_layout(fmt);
    const int64_t ldw = row_bytes(fmt, k);
    ASSERT_EQ(grid_block_bytes(fmt), sdk::ggml_block_bytes(layout));
    const std::vector<std::byte> w = random_grid_rows(fmt, rows, k, rng);
    Aligned out(static_cast<size_t>(2 * rows * k));
    auto* integers = reinterpret_cast<int16_t*>(out.data);
    std::vector<float> factors(static_cast<size_t>(rows * blocks));
    dot.expand_grid(fmt, reinterpret_cast<const uint8_t*>(w.data()), ldw, rows, k, integers, factors.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < k; ++c) {
        const float want = sdk::ggml_value(w.data() + r * ldw, layout, c);
        const float got = static_cast<float>(integers[r * k + c]) * factors[static_cast<size_t>(r * blocks + c / kKSuperBlock)];
        ASSERT_EQ(got, want) << "GGUF layout " << layout << ": row " << r << ", weight " << c;
      }
  }
}

// Decode's product straight from the blocks (gemv_grid, M <= 4): against the integer sums of the
// rebuilt weights (checked above) and x quantised on the grid the kernels declare, scaled per block.
TEST_P(Int8DotGemv, GridGemvMatchesTheIntegerSumsOfItsWeights) {
  if (!kernels()) GTEST_SKIP() << "this CPU cannot run these kernels";
  const Int8DotKernels& dot = *kernels();
  std::mt19937 rng(59);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (WFormat fmt : kGridFormats)
    for (int64_t m : {1, 2, 3, 4})
      for (int64_t k : {256, 768}) {
        const int64_t n = 5, blocks = k / kKSuperBlock, ldw = row_bytes(fmt, k);
        const std::vector<std::byte> w = random_grid_rows(fmt, n, k, rng);
        Aligned rebuilt(static_cast<size_t>(2 * n * k));
        auto* integers = reinterpret_cast<int16_t*>(rebuilt.data);
        std::vector<float> factors(static_cast<size_t>(n * blocks));
        dot.expand_grid(fmt, reinterpret_cast<const uint8_t*>(w.data()), ldw, n, k, integers, factors.data());
        std::vector<float> x(static_cast<size_t>(m * k));
        for (float& v : x) v = normal(rng);
        Aligned xq(static_cast<size_t>(m * dot.x_row_bytes(fmt, k, m)));
        dot.quantize_rows(fmt, x.data(), k, m, k, xq.data);
        std::vector<float> y(static_cast<size_t>(m * (n + 1)), -7.f);
        dot.gemv_grid(fmt, reinterpret_cast<const uint8_t*>(w.data()), ldw, n, k, xq.data, m, y.data(), n + 1);
        const QuantisedX q = quantise_x(x, k, m, k, x_grid(fmt, m));
        const std::string what = "GGUF layout " + std::to_string(grid_layout(fmt)) + ": M " + std::to_string(m) + ", K " + std::to_string(k);
        EXPECT_TRUE(matches_block_sums(y, integers, factors.data(), q, m, n, k)) << what;
      }
}

// Prefill on the packed K formats (16-bit x per block of 256): a NaN in one row of x makes that
// row's products NaN and leaves the others finite; a row of zeros gives zeros.
TEST_P(Int8DotGemv, ANanActivationGivesNanProductsInPrefill) {
  if (!kernels()) GTEST_SKIP() << "this CPU cannot run these kernels";
  const Int8DotKernels& dot = *kernels();
  std::mt19937 rng(47);
  for (WFormat fmt : kKFormats)
    for (bool with_mins : {true, false}) {
      if (!packed_k(fmt) || !as_the_k_quants(fmt, with_mins)) continue;
      const int64_t n = 9, k = 512, m = 6;
      ASSERT_TRUE(wide_x(fmt, m));
      const KRowsFixture f = k_rows(fmt, with_mins, n, k, rng);
      std::vector<float> x(static_cast<size_t>(m * k), 0.5f);
      x[static_cast<size_t>(2 * k + 300)] = std::nanf("");
      std::fill(x.begin() + 4 * k, x.begin() + 5 * k, 0.f);
      Aligned xq(static_cast<size_t>(m * dot.x_row_bytes(fmt, k, m)));
      dot.quantize_rows(fmt, x.data(), k, m, k, xq.data);
      Aligned expand(static_cast<size_t>(kExpandBytesPerWeight * k));
      std::vector<float> y(static_cast<size_t>(m * n));
      dot.gemv_k(fmt, f.codes.data(), f.scales(), n, k, xq.data, m, y.data(), n, expand.data);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t r = 0; r < n; ++r) {
          const float v = y[static_cast<size_t>(i * n + r)];
          if (i == 2) EXPECT_TRUE(std::isnan(v)) << name_of(fmt) << " y[2][" << r << "] = " << v;
          else if (i == 4) EXPECT_EQ(v, 0.f) << name_of(fmt) << " y[4][" << r << "]";
          else EXPECT_TRUE(std::isfinite(v)) << name_of(fmt) << " y[" << i << "][" << r << "] = " << v;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Sets, Int8DotGemv, ::testing::Values(DotKernels::avx512_vnni, DotKernels::avx2),
                         [](const ::testing::TestParamInfo<DotKernels>& i) {
                           return std::string(i.param == DotKernels::avx2 ? "avx2" : "avx512_vnni");
                         });

// Matrix with weights = "int8" / "int4": the bf16 source quantised once at construction, every
// M on the GEMV (up to gemv_max_rows) and on the tiles above it.
TEST(QuantisedMatrix, BothPathsMatchTheDequantisedWeights) {
  std::mt19937 rng(31);
  std::normal_distribution<float> normal(0.f, 1.f);
  const int64_t n = 72, k = 256;
  std::vector<uint16_t> source(static_cast<size_t>(n * k));
  std::vector<float> source_f32(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    source[i] = floats::f32_to_bf16(normal(rng) * 0.05f);
    source_f32[i] = floats::bf16_to_f32(source[i]);
  }
  for (WeightStorage storage : {WeightStorage::int8, WeightStorage::int4}) {
    const WFormat fmt = storage == WeightStorage::int8 ? WFormat::q8 : WFormat::q4;
    CpuOptions options;
    options.threads = 2;
    options.isa = cpu_supports(Isa::avx512) ? Isa::avx512 : cpu_supports(Isa::avx2) ? Isa::avx2 : Isa::scalar;
    options.weights = storage;
    options.gemv_max_rows = 4;
    CpuContext ctx(options);
    const Matrix matrix(ctx, WeightView{WFormat::bf16, source.data(), n, k, nullptr});
    ASSERT_EQ(matrix.view().fmt, fmt) << "the matrix was not quantised";
    // The expected weights: each group quantised by the format's definition.
    QuantRows q{{}, {}, std::vector<double>(source.size())};
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t g = 0; g < k / kQuantGroup; ++g) {
        uint8_t codes[kQuantGroup];
        uint16_t bits = quant::quantize_group(fmt, source_f32.data() + r * k + g * kQuantGroup, codes);
        for (int64_t i = 0; i < kQuantGroup; ++i) {
          q.value[static_cast<size_t>(r * k + g * kQuantGroup + i)] = quant::dequantised(fmt, codes, &bits, i);
        }
      }
    }
    for (int64_t m : {1, 3, 4, 5, 19}) {
      std::vector<float> x(static_cast<size_t>(m * k)), y(static_cast<size_t>(m * n), -7.f);
      for (float& v : x) v = normal(rng);
      matrix.multiply(ctx, x.data(), m, y.data(), 2);
      expect_sums(y, n, x, k, q, m, n, k, std::string(matrix.path_for(ctx, m)) + " " + name_of(fmt));
    }
  }
}

// matmul_precision = "int8": every M on the integer GEMV (with the AVX-512 table: VNNI's where the
// CPU has it, else AVX2's; with the AVX2 table: AVX2's), within x's rounding of the f32 product.
TEST(QuantisedMatrix, Int8ActivationsTakeTheDotKernelAtEveryM) {
  if (!cpu_supports(Isa::avx2)) GTEST_SKIP() << "this CPU has no AVX2";
  std::mt19937 rng(41);
  std::normal_distribution<float> normal(0.f, 1.f);
  const int64_t n = 40, k = 160;
  std::vector<float> source(static_cast<size_t>(n * k));
  for (float& v : source) v = normal(rng);
  for (const auto& [storage, isa] : {std::pair{WeightStorage::int8, Isa::avx512}, std::pair{WeightStorage::int4, Isa::avx512},
                                     std::pair{WeightStorage::int8, Isa::avx2}, std::pair{WeightStorage::int4, Isa::avx2}}) {
    if (!cpu_supports(isa)) continue;
    CpuOptions options;
    options.threads = 2;
    options.isa = isa;
    options.weights = storage;
    options.int8_matmuls = true;
    CpuContext ctx(options);
    ASSERT_NE(ctx.int8_dot, nullptr);
    const Matrix matrix(ctx, WeightView{WFormat::f32, source.data(), n, k, nullptr});
    const WeightView& v = matrix.view();
    for (int64_t m : {1, 4, 17, 70}) {
      EXPECT_STREQ(matrix.path_for(ctx, m), "gemv");
      std::vector<float> x(static_cast<size_t>(m * k)), y(static_cast<size_t>(m * n));
      for (float& e : x) e = normal(rng);
      matrix.multiply(ctx, x.data(), m, y.data(), 2);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t r = 0; r < n; ++r) {
          double exact = 0, rounding = 0;
          for (int64_t g = 0; g < k / kQuantGroup; ++g) {
            float a = 0;
            double weights = 0;
            for (int64_t c = g * kQuantGroup; c < (g + 1) * kQuantGroup; ++c) {
              const double w = quant::dequantised(v.fmt, v.row(r), v.group_scales + r * v.groups(), c);
              exact += x[static_cast<size_t>(i * k + c)] * w;
              weights += std::fabs(w);
              a = std::max(a, std::fabs(x[static_cast<size_t>(i * k + c)]));
            }
            rounding += a / 127.0 / 2 * weights;
          }
          ASSERT_LE(std::fabs(y[static_cast<size_t>(i * n + r)] - exact), rounding * 1.001 + 1e-4)
              << weight_storage_name(storage) << " " << isa_name(isa) << " M " << m << ", y[" << i << "][" << r << "]";
        }
    }
  }
}

// A row length that is not a multiple of the group stays in its stored format.
TEST(QuantisedMatrix, RowsOfOtherLengthsKeepTheirFormat) {
  CpuOptions options;
  options.weights = WeightStorage::int4;
  CpuContext ctx(options);
  std::vector<float> w(3 * 40, 0.25f);
  const Matrix matrix(ctx, WeightView{WFormat::f32, w.data(), 3, 40, nullptr});
  EXPECT_EQ(matrix.view().fmt, WFormat::f32);
  std::vector<float> x(40, 1.0f), y(3);
  matrix.multiply(ctx, x.data(), 1, y.data(), 1);
  EXPECT_EQ(y[0], 10.0f);
}

// A matrix holding a weight that is not finite, or one beyond what an f16 scale can carry, stays
// in its stored format: quantised, it would turn into zeros or NaNs that the checkpoint lacks.
TEST(QuantisedMatrix, MatricesThatCannotBeQuantisedKeepTheirFormat) {
  CpuOptions options;
  options.weights = WeightStorage::int8;
  CpuContext ctx(options);
  for (const float odd : {std::numeric_limits<float>::infinity(), std::nanf(""), 1e12f}) {
    std::vector<float> w(2 * 64, 0.25f);
    w[100] = odd;
    const Matrix matrix(ctx, WeightView{WFormat::f32, w.data(), 2, 64, nullptr});
    EXPECT_EQ(matrix.view().fmt, WFormat::f32) << "weight " << odd;
  }
}

}  // namespace
}  // namespace fathom::cpu
