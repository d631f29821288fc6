// Input makers shared by the case files: seeded random values in any dtype, FP8 codes and
// block scales, and the OpTensor shorthands.
#pragma once

#include <cstring>
#include <random>
#include <vector>

#include "fathom/core/dtype.h"
#include "op_runner.h"

namespace fathom::test {

struct Draw {
  std::mt19937_64 rng;

  std::vector<float> normal(size_t n, double scale = 1.0) {
    std::normal_distribution<float> d(0.f, static_cast<float>(scale));
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
  }
  std::vector<std::byte> as(uint32_t dtype, const std::vector<float>& v) {
    std::vector<std::byte> out(v.size() * dtype_size(dtype_from_id(dtype)));
    convert_from_f32(dtype_from_id(dtype), v.data(), out.data(), v.size());
    return out;
  }
  std::vector<std::byte> fp8_codes(size_t n) {  // any finite e4m3 code
    std::uniform_int_distribution<int> d(0, 255);
    std::vector<std::byte> out(n);
    for (auto& b : out) {
      int c;
      do c = d(rng); while ((c & 0x7F) == 0x7F);
      b = static_cast<std::byte>(c);
    }
    return out;
  }
  std::vector<std::byte> scales(size_t n) {  // spread 20x: a misindexed grid shows
    std::uniform_real_distribution<float> d(0.001f, 0.02f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return as(FATHOM_DTYPE_F32, v);
  }
  std::vector<std::byte> ints(const std::vector<int32_t>& v) {
    std::vector<std::byte> out(v.size() * 4);
    std::memcpy(out.data(), v.data(), out.size());
    return out;
  }
};

inline OpTensor tensor(uint32_t dtype, std::vector<int64_t> shape, std::vector<std::byte> data, bool weight = false,
                uint32_t layout = FATHOM_LAYOUT_DENSE) {
  return OpTensor{make_desc(dtype, std::move(shape), layout), weight, std::move(data)};
}
inline OpTensor output(uint32_t dtype, std::vector<int64_t> shape) { return OpTensor{make_desc(dtype, std::move(shape)), false, {}}; }

template <typename A>
std::vector<std::byte> attrs_bytes(const A& a) {
  std::vector<std::byte> b(sizeof a);
  std::memcpy(b.data(), &a, sizeof a);
  return b;
}

}  // namespace fathom::test
