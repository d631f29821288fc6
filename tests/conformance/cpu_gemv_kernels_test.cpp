// The cpu backend's GEMV kernels (and the tiles' transpose) on their own (backends/cpu/isa): every table this CPU can run,
// every weight format, and the vdpbf16ps kernel where the CPU has AVX512_BF16, against sums in
// double of the same widened values. The op conformance suite reaches these kernels only at the
// shapes the graph gives them; here the awkward ones are explicit: K not a multiple of the vector
// (the tails), weight row counts that leave partial tiles and blocks, 1 to 9 rows of x (every
// register tile, and more than one pass of four), and strides wider than the rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fathom/sdk/float_formats.hpp"
#include "isa/bf16_dot.h"
#include "isa/e4m3_lookup.h"
#include "isa/isa.h"

namespace fathom::cpu {
namespace {

namespace floats = sdk::floats;

struct Shape {
  int64_t rows_x, rows_w, k;
};

std::vector<Shape> shapes() {
  std::vector<Shape> out;
  for (int64_t m : {1, 2, 3, 4, 5, 9})
    for (int64_t n : {1, 7, 8, 9, 17, 24})
      for (int64_t k : {1, 2, 15, 31, 32, 33, 64, 130}) out.push_back({m, n, k});
  return out;
}

// Weights of one format with their exact values (what the kernel must read them as).
struct Weights {
  std::vector<std::byte> bytes;  // rows_w × ldw elements of the format
  std::vector<double> value;     // rows_w × k
};

Weights make_weights(WFormat fmt, int64_t rows, int64_t k, int64_t ldw, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  const int64_t eb = format_bytes(fmt);
  Weights w{std::vector<std::byte>(static_cast<size_t>(rows * ldw * eb)), std::vector<double>(static_cast<size_t>(rows * k))};
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < ldw; ++c) {
      // Past k the row holds a large value: a kernel that reads beyond K_len gets it wrong.
      const float v = c < k ? normal(rng) : 1e4f;
      std::byte* p = w.bytes.data() + (r * ldw + c) * eb;
      double exact = 0;
      switch (fmt) {
        case WFormat::f32: std::memcpy(p, &v, 4), exact = v; break;
        case WFormat::bf16: {
          const uint16_t h = floats::f32_to_bf16(v);
          std::memcpy(p, &h, 2), exact = floats::bf16_to_f32(h);
          break;
        }
        case WFormat::f16: {
          const uint16_t h = floats::f32_to_f16(v);
          std::memcpy(p, &h, 2), exact = floats::f16_to_f32(h);
          break;
        }
        case WFormat::e4m3: {
          // Every code but the two NaNs (callers keep those from the kernels; isa.h): subnormals,
          // both zeros and ±448 included, which rounding normal values would rarely give.
          uint8_t q = c < k ? static_cast<uint8_t>(rng()) : floats::f32_to_e4m3fn(v, true);
          if ((q & 0x7F) == 0x7F) q ^= 1;
          *p = static_cast<std::byte>(q), exact = floats::e4m3fn_to_f32(q) / kE4M3GemvScale;  // the GEMV view
          break;
        }
        case WFormat::e5m2: {
          const uint8_t q = floats::f32_to_e5m2(v, true);
          *p = static_cast<std::byte>(q), exact = floats::e5m2_to_f32(q);
          break;
        }
        default: break;  // the quantised and K formats: cpu_quantized_weights_test.cpp
      }
      if (c < k) w.value[static_cast<size_t>(r * k + c)] = exact;
    }
  }
  return w;
}

// Checks y against Σ_k x·w in double, and that y's stride gap keeps its -7 fill. The kernels sum
// in f32 in any order: the bound is the worst case of K roundings of the running sum, a few ulps
// of Σ|x·w|; a wrong index, tail or stride is off by whole products.
void expect_close(const std::vector<float>& y, int64_t ldy, const std::vector<double>& x, int64_t ldx,
                  const Weights& w, const Shape& s, const std::string& what) {
  for (int64_t m = 0; m < s.rows_x; ++m) {
    for (int64_t r = 0; r < s.rows_w; ++r) {
      double sum = 0, magnitude = 0;
      for (int64_t c = 0; c < s.k; ++c) {
        const double p = x[static_cast<size_t>(m * ldx + c)] * w.value[static_cast<size_t>(r * s.k + c)];
        sum += p, magnitude += std::fabs(p);
      }
      const double bound = static_cast<double>(s.k + 1) * std::ldexp(magnitude, -23) + 1e-30;
      ASSERT_LE(std::fabs(y[static_cast<size_t>(m * ldy + r)] - sum), bound)
          << what << ": M " << s.rows_x << ", N " << s.rows_w << ", K " << s.k << ", y[" << m << "][" << r << "]";
    }
    for (int64_t r = s.rows_w; r < ldy; ++r)  // the stride's gap (y was filled with -7) is not written
      ASSERT_EQ(y[static_cast<size_t>(m * ldy + r)], -7.f) << what << ": wrote into y's stride gap";
  }
}

// shapes() and, for the 64-weight steps of the lookup kernels, several steps with a tail.
std::vector<Shape> lookup_shapes() {
  std::vector<Shape> all = shapes();
  for (int64_t m : {1, 2, 3, 4, 5, 9}) all.push_back({m, 17, 64 * 5 + 17});
  return all;
}

class GemvKernels : public ::testing::TestWithParam<Isa> {};

TEST_P(GemvKernels, MatchExactSumsForEveryFormatAndShape) {
  if (!cpu_supports(GetParam())) GTEST_SKIP() << "this CPU cannot run the " << isa_name(GetParam()) << " kernels";
  const IsaKernels& isa = kernels_for(GetParam());
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (WFormat fmt : {WFormat::f32, WFormat::bf16, WFormat::f16, WFormat::e4m3, WFormat::e5m2}) {
    for (const Shape& s : shapes()) {
      const int64_t ldw = s.k + 3, ldx = s.k + 5, ldy = s.rows_w + 2;
      const Weights w = make_weights(fmt, s.rows_w, s.k, ldw, rng);
      std::vector<float> x(static_cast<size_t>(s.rows_x * ldx));
      for (float& v : x) v = normal(rng);
      std::vector<float> y(static_cast<size_t>(s.rows_x * ldy), -7.f);
      isa.gemv(fmt, w.bytes.data(), ldw, s.rows_w, s.k, x.data(), ldx, s.rows_x, y.data(), ldy);
      const std::vector<double> xd(x.begin(), x.end());
      expect_close(y, ldy, xd, ldx, w, s, std::string(isa.name) + " gemv, format " + std::to_string(static_cast<int>(fmt)));
    }
  }
}

// The transposed GEMV (absorbed MLA's W_UKᵀ·q): y[c] = Σ_r x[r]·w[r][c], the same checks with the
// roles of rows and columns swapped (here rows_w plays K and k the output width).
TEST_P(GemvKernels, TransposedGemvMatchesExactSums) {
  if (!cpu_supports(GetParam())) GTEST_SKIP() << "this CPU cannot run the " << isa_name(GetParam()) << " kernels";
  const IsaKernels& isa = kernels_for(GetParam());
  std::mt19937 rng(19);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (WFormat fmt : {WFormat::f32, WFormat::bf16, WFormat::f16, WFormat::e4m3, WFormat::e5m2}) {
    for (int64_t rows : {1, 3, 16, 37})
      for (int64_t cols : {1, 15, 16, 17, 130, 300}) {
        const int64_t ldw = cols + 3;
        const Weights w = make_weights(fmt, rows, cols, ldw, rng);
        std::vector<float> x(static_cast<size_t>(rows));
        for (float& v : x) v = normal(rng);
        std::vector<float> y(static_cast<size_t>(cols) + 1, -7.f);
        isa.gemv_t(fmt, w.bytes.data(), ldw, rows, cols, x.data(), y.data());
        for (int64_t c = 0; c < cols; ++c) {
          double sum = 0, magnitude = 0;
          for (int64_t r = 0; r < rows; ++r) {
            const double p = x[static_cast<size_t>(r)] * w.value[static_cast<size_t>(r * cols + c)];
            sum += p, magnitude += std::fabs(p);
          }
          ASSERT_LE(std::fabs(y[static_cast<size_t>(c)] - sum), static_cast<double>(rows + 1) * std::ldexp(magnitude, -23) + 1e-30)
              << isa.name << " gemv_t, format " << static_cast<int>(fmt) << ", " << rows << " x " << cols << ", y[" << c << "]";
        }
        ASSERT_EQ(y[static_cast<size_t>(cols)], -7.f) << isa.name << ": wrote past the last column";
      }
  }
}

// The tiles' transpose (matmul/tiled.cpp): whole register tiles, their edges and strides.
TEST_P(GemvKernels, TransposeMovesEveryElement) {
  if (!cpu_supports(GetParam())) GTEST_SKIP() << "this CPU cannot run the " << isa_name(GetParam()) << " kernels";
  const IsaKernels& isa = kernels_for(GetParam());
  for (int64_t rows : {1, 7, 8, 15, 16, 17, 33, 64})
    for (int64_t cols : {1, 5, 8, 16, 31, 48, 70}) {
      std::vector<float> in(static_cast<size_t>(rows * cols)), out(in.size(), -1.f);
      for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i);
      isa.transpose(in.data(), rows, cols, out.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          ASSERT_EQ(out[static_cast<size_t>(c * rows + r)], in[static_cast<size_t>(r * cols + c)])
              << isa.name << ": " << rows << " x " << cols << ", element (" << r << ", " << c << ")";
    }
}

INSTANTIATE_TEST_SUITE_P(Tables, GemvKernels, ::testing::Values(Isa::scalar, Isa::avx2, Isa::avx512),
                         [](const ::testing::TestParamInfo<Isa>& i) { return std::string(isa_name(i.param)); });

// The E4M3 kernel that widens by table lookup: the same contract as the tables' gemv.
TEST(E4m3LookupGemv, MatchesExactSumsForEveryShape) {
  if (!cpu_supports_avx512_vbmi()) GTEST_SKIP() << "this CPU has no AVX512_VBMI";
  const E4m3Gemv gemv = avx512_vbmi_e4m3_gemv();
  std::mt19937 rng(13);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (const Shape& s : lookup_shapes()) {
    const int64_t ldw = s.k + 3, ldx = s.k + 5, ldy = s.rows_w + 2;
    const Weights w = make_weights(WFormat::e4m3, s.rows_w, s.k, ldw, rng);
    std::vector<float> x(static_cast<size_t>(s.rows_x * ldx));
    for (float& v : x) v = normal(rng);
    std::vector<float> y(static_cast<size_t>(s.rows_x * ldy), -7.f);
    gemv(reinterpret_cast<const uint8_t*>(w.bytes.data()), ldw, s.rows_w, s.k, x.data(), ldx, s.rows_x, y.data(), ldy);
    expect_close(y, ldy, std::vector<double>(x.begin(), x.end()), ldx, w, s, "avx512_vbmi e4m3 gemv");
  }
}

// The E4M3 lookup kernel of matmul_precision = "bf16": x rounded to bf16 (nearest even), exact
// products, f32 sums.
TEST(E4m3LookupBf16Gemv, MatchesExactSumsOfBf16RoundedX) {
  if (!cpu_supports_avx512_vbmi() || !cpu_supports_avx512_bf16()) GTEST_SKIP() << "this CPU lacks AVX512_VBMI or AVX512_BF16";
  const E4m3Bf16Gemv gemv = avx512_vbmi_bf16_e4m3_gemv();
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (const Shape& s : lookup_shapes()) {
    const int64_t ldw = s.k + 3, ldx = s.k + 5, ldy = s.rows_w + 2;
    const Weights w = make_weights(WFormat::e4m3, s.rows_w, s.k, ldw, rng);
    std::vector<float> x(static_cast<size_t>(s.rows_x * ldx));
    std::vector<double> rounded(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = normal(rng);
      rounded[i] = floats::bf16_to_f32(floats::f32_to_bf16(x[i]));
    }
    std::vector<uint16_t> scratch(static_cast<size_t>(s.rows_x * s.k));
    std::vector<float> y(static_cast<size_t>(s.rows_x * ldy), -7.f);
    gemv(reinterpret_cast<const uint8_t*>(w.bytes.data()), ldw, s.rows_w, s.k, x.data(), ldx, s.rows_x, y.data(), ldy,
         scratch.data());
    expect_close(y, ldy, rounded, ldx, w, s, "avx512_vbmi_bf16 e4m3 gemv");
  }
}

// The vdpbf16ps kernel: x and w as bf16, exact products, f32 sums.
TEST(Bf16DotGemv, MatchesExactSumsOfBf16Products) {
  if (!cpu_supports_avx512_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  const Bf16DotGemv gemv = avx512_bf16_gemv();
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (const Shape& s : shapes()) {
    const int64_t ldw = s.k + 3, ldx = s.k + 5, ldy = s.rows_w + 2;
    const Weights w = make_weights(WFormat::bf16, s.rows_w, s.k, ldw, rng);
    std::vector<uint16_t> x(static_cast<size_t>(s.rows_x * ldx));
    std::vector<double> xd(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = floats::f32_to_bf16(static_cast<int64_t>(i) % ldx < s.k ? normal(rng) : 1e4f);
      xd[i] = floats::bf16_to_f32(x[i]);
    }
    std::vector<float> y(static_cast<size_t>(s.rows_x * ldy), -7.f);
    gemv(reinterpret_cast<const uint16_t*>(w.bytes.data()), ldw, s.rows_w, s.k, x.data(), ldx, s.rows_x, y.data(), ldy);
    expect_close(y, ldy, xd, ldx, w, s, "avx512_bf16 gemv");
  }
}

}  // namespace
}  // namespace fathom::cpu
