// The CUDA/HIP kernels' number-format conversions (backends/cuda/kernels/float_codec.cuh) are
// plain arithmetic marked __host__ __device__: here they run on the CPU against sdk::floats,
// the codec of the reference backend, so a GPU-less machine checks them bit for bit.
//
// Decoding: every code of every small format. Encoding: every f32 whose low 12 bits are one of
// a few patterns (0, 1, just below and at and above the midpoint, all ones) — 2^20 high halves
// times those — which covers every rounding boundary of formats that drop 13 or more bits, every
// binade, subnormals, overflow, Inf and NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "fathom/sdk/float_formats.hpp"
#include "kernels/float_codec.cuh"

namespace {

namespace sf = fathom::sdk::floats;
namespace gf = fathom::gpu;

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Same value, or both NaN.
bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || bits_of(a) == bits_of(b); }

TEST(CudaCodec, DecodesEveryCode) {
  for (uint32_t c = 0; c < 256; ++c) {
    const auto v = static_cast<uint8_t>(c);
    EXPECT_TRUE(same(gf::e4m3fn_to_f32(v), sf::e4m3fn_to_f32(v))) << "e4m3 code " << c;
    EXPECT_TRUE(same(gf::e5m2_to_f32(v), sf::e5m2_to_f32(v))) << "e5m2 code " << c;
  }
  for (uint32_t c = 0; c < 65536; ++c) {
    const auto v = static_cast<uint16_t>(c);
    ASSERT_TRUE(same(gf::f16_to_f32(v), sf::f16_to_f32(v))) << "f16 code " << c;
    ASSERT_TRUE(same(gf::bf16_to_f32(v), sf::bf16_to_f32(v))) << "bf16 code " << c;
  }
}

TEST(CudaCodec, EncodesLikeTheReference) {
  const uint32_t low[] = {0x000, 0x001, 0x7FF, 0x800, 0x801, 0xFFF};
  size_t checked = 0;
  for (uint32_t high = 0; high < (1u << 20); ++high) {
    for (uint32_t l : low) {
      const float f = float_of((high << 12) | l);
      ASSERT_EQ(gf::f32_to_bf16(f), sf::f32_to_bf16(f)) << "bf16 of bits 0x" << std::hex << bits_of(f);
      ASSERT_EQ(gf::f32_to_f16(f), sf::f32_to_f16(f)) << "f16 of bits 0x" << std::hex << bits_of(f);
      for (bool sat : {true, false}) {
        ASSERT_EQ(gf::f32_to_e4m3fn(f, sat), sf::f32_to_e4m3fn(f, sat)) << "e4m3 of bits 0x" << std::hex << bits_of(f);
        ASSERT_EQ(gf::f32_to_e5m2(f, sat), sf::f32_to_e5m2(f, sat)) << "e5m2 of bits 0x" << std::hex << bits_of(f);
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, size_t{6} << 20);
}

}  // namespace
