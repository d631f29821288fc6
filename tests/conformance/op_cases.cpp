#include "op_cases.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fathom/core/dtype.h"

namespace fathom::test {

namespace {

double epsilon(uint32_t dtype) {
  switch (dtype) {
    case FATHOM_DTYPE_F32: return std::ldexp(1.0, -23);
    case FATHOM_DTYPE_F16: return std::ldexp(1.0, -10);
    case FATHOM_DTYPE_BF16: return std::ldexp(1.0, -7);
    case FATHOM_DTYPE_F8_E4M3FN: return std::ldexp(1.0, -3);
    case FATHOM_DTYPE_F8_E5M2: return std::ldexp(1.0, -2);
    default: return 0;
  }
}

struct Gen {
  std::mt19937_64 rng;
  std::vector<std::byte> normal(uint32_t dtype, size_t n, double scale = 1.0) {
    std::normal_distribution<float> dist(0.f, static_cast<float>(scale));
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    std::vector<std::byte> out(n * dtype_size(dtype_from_id(dtype)));
    convert_from_f32(dtype_from_id(dtype), v.data(), out.data(), n);
    return out;
  }
  std::vector<std::byte> fp8_codes(size_t n) {  // any finite e4m3 code, subnormals included
    std::uniform_int_distribution<int> dist(0, 255);
    std::vector<std::byte> out(n);
    for (auto& b : out) {
      int c;
      do c = dist(rng); while ((c & 0x7F) == 0x7F);
      b = static_cast<std::byte>(c);
    }
    return out;
  }
  std::vector<std::byte> scales(size_t n) {  // non-uniform: catches transposed or misindexed grids
    std::uniform_real_distribution<float> dist(0.001f, 0.02f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    std::vector<std::byte> out(n * 4);
    std::memcpy(out.data(), v.data(), out.size());
    return out;
  }
  std::vector<std::byte> ids(size_t n, int32_t vocab) {
    std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
    std::vector<int32_t> v(n);
    for (auto& x : v) x = dist(rng);
    std::vector<std::byte> out(n * 4);
    std::memcpy(out.data(), v.data(), out.size());
    return out;
  }
};

template <typename A>
std::vector<std::byte> attrs_bytes(const A& a) {
  std::vector<std::byte> b(sizeof a);
  std::memcpy(b.data(), &a, sizeof a);
  return b;
}

OpTensor tensor(uint32_t dtype, std::vector<int64_t> shape, std::vector<std::byte> data, bool weight = false,
                uint32_t layout = FATHOM_LAYOUT_DENSE) {
  return OpTensor{make_desc(dtype, std::move(shape), layout), weight, std::move(data)};
}

OpTensor output(uint32_t dtype, std::vector<int64_t> shape) { return OpTensor{make_desc(dtype, std::move(shape)), false, {}}; }

std::string dname(uint32_t dtype) { return std::string(dtype_name(dtype_from_id(dtype))); }

}  // namespace

double tolerance_for(uint32_t dtype, bool reduction) { return (reduction ? 16.0 : 4.0) * epsilon(dtype); }

std::vector<OpCase> make_op_cases(uint64_t seed) {
  Gen g{std::mt19937_64(seed)};
  std::vector<OpCase> cases;
  const uint32_t F32 = FATHOM_DTYPE_F32, BF16 = FATHOM_DTYPE_BF16, F16 = FATHOM_DTYPE_F16;
  const uint32_t F8 = FATHOM_DTYPE_F8_E4M3FN;

  // Element-wise ops and their shapes: 1 row, odd widths, a width past 16 and 64 lanes.
  for (auto [t, f] : {std::pair<int64_t, int64_t>{1, 1}, {3, 17}, {7, 130}, {33, 65}}) {
    for (uint32_t op : {uint32_t{FATHOM_OP_ADD}, uint32_t{FATHOM_OP_SILU_MUL}}) {
      OpCase c;
      c.name = std::string(op == FATHOM_OP_ADD ? "add" : "silu_mul") + "_f32_T" + std::to_string(t) + "_F" + std::to_string(f);
      c.call.op = op;
      c.call.inputs = {tensor(F32, {t, f}, g.normal(F32, t * f)), tensor(F32, {t, f}, g.normal(F32, t * f))};
      c.call.outputs = {output(F32, {t, f})};
      c.tolerance = tolerance_for(F32, false);
      cases.push_back(std::move(c));
    }
  }

  // RMSNorm over widths that stress the reduction.
  for (auto [t, d] : {std::pair<int64_t, int64_t>{1, 64}, {5, 130}, {9, 7}}) {
    for (uint32_t wdt : {F32, BF16}) {
      OpCase c;
      c.name = "rms_norm_w" + dname(wdt) + "_T" + std::to_string(t) + "_D" + std::to_string(d);
      c.call.op = FATHOM_OP_RMS_NORM;
      c.call.inputs = {tensor(F32, {t, d}, g.normal(F32, t * d, 3.0)), tensor(wdt, {d}, g.normal(wdt, d), true)};
      c.call.outputs = {output(F32, {t, d})};
      c.call.attrs = attrs_bytes(fathom_rms_norm_attrs{1e-6f});
      c.tolerance = tolerance_for(F32, true);
      cases.push_back(std::move(c));
    }
  }

  // Embedding lookups from tables of each float dtype.
  for (uint32_t tdt : {F32, BF16, F16}) {
    const int64_t vocab = 97, width = 33, t = 11;
    OpCase c;
    c.name = "embedding_" + dname(tdt) + "_V97_D33_T11";
    c.call.op = FATHOM_OP_EMBEDDING;
    c.call.inputs = {tensor(FATHOM_DTYPE_I32, {t}, g.ids(t, vocab)), tensor(tdt, {vocab, width}, g.normal(tdt, vocab * width), true)};
    c.call.outputs = {output(F32, {t, width})};
    c.tolerance = 0;  // a copy: exact
    cases.push_back(std::move(c));
  }

  // Dense matmuls: f32/bf16/f16 weights, odd sizes.
  for (auto [t, k, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 64, 48}, {7, 130, 33}, {16, 257, 129}}) {
    for (uint32_t wdt : {F32, BF16, F16}) {
      OpCase c;
      c.name = "matmul_" + dname(wdt) + "w_T" + std::to_string(t) + "_K" + std::to_string(k) + "_N" + std::to_string(n);
      c.call.op = FATHOM_OP_MATMUL;
      c.call.inputs = {tensor(F32, {t, k}, g.normal(F32, t * k)), tensor(wdt, {n, k}, g.normal(wdt, n * k, 0.1), true)};
      c.call.outputs = {output(F32, {t, n})};
      c.tolerance = tolerance_for(wdt == F32 ? F32 : wdt, true);
      cases.push_back(std::move(c));
    }
  }

  // FP8 e4m3 weights with 128×128 block scales; N and K not multiples of 128 (ragged blocks),
  // and ceil(K/128) % 4 != 0 (the padding case of cuBLASLt).
  for (auto [t, k, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 256, 200}, {5, 320, 130}, {4, 640, 576}}) {
    OpCase c;
    c.name = "matmul_fp8block_T" + std::to_string(t) + "_K" + std::to_string(k) + "_N" + std::to_string(n);
    c.call.op = FATHOM_OP_MATMUL;
    int64_t sn = (n + 127) / 128, sk = (k + 127) / 128;
    c.call.inputs = {tensor(F32, {t, k}, g.normal(F32, t * k)),
                     tensor(F8, {n, k}, g.fp8_codes(n * k), true, FATHOM_LAYOUT_BLOCK_SCALED_128x128),
                     tensor(F32, {sn, sk}, g.scales(sn * sk), true)};
    c.call.outputs = {output(F32, {t, n})};
    // The weights are exact FP8 values; what a backend may lose is in x, which GPUs quantise to
    // FP8 per 1×128 block (about 2^-4 relative per element, averaging out over K). 5% of the
    // largest output still catches a misindexed or transposed scale grid: the scales span 20×.
    c.tolerance = 0.05;
    cases.push_back(std::move(c));
  }

  // Slice and concat (the glue of the MLA split).
  {
    OpCase c;
    c.name = "slice_T6_F576_from512_len64";
    c.call.op = FATHOM_OP_SLICE;
    c.call.inputs = {tensor(F32, {6, 576}, g.normal(F32, 6 * 576))};
    c.call.outputs = {output(F32, {6, 64})};
    c.call.attrs = attrs_bytes(fathom_slice_attrs{512, 64});
    c.tolerance = 0;
    cases.push_back(std::move(c));
  }
  {
    OpCase c;
    c.name = "concat_T5_A33_B64";
    c.call.op = FATHOM_OP_CONCAT;
    c.call.inputs = {tensor(F32, {5, 33}, g.normal(F32, 5 * 33)), tensor(F32, {5, 64}, g.normal(F32, 5 * 64))};
    c.call.outputs = {output(F32, {5, 97})};
    c.tolerance = 0;
    cases.push_back(std::move(c));
  }
  for (uint32_t to : {BF16, F16, F8}) {
    OpCase c;
    c.name = "convert_f32_to_" + dname(to) + "_T3_F70";
    c.call.op = FATHOM_OP_CONVERT;
    c.call.inputs = {tensor(F32, {3, 70}, g.normal(F32, 3 * 70, 4.0))};
    c.call.outputs = {output(to, {3, 70})};
    c.tolerance = 0;  // round to nearest even is exactly defined
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace fathom::test
