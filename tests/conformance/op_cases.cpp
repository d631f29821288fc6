#include "op_cases.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "fathom/core/dtype.h"
#include "fathom/sdk/tensor.hpp"
#include "plugin_fixture.h"

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
  // A [rows, cols] matrix in GGUF blocks (FATHOM_LAYOUT_GGML_*): non-uniform f16 scales (catching
  // a block read with its neighbour's scale) and codes of every value.
  std::vector<std::byte> ggml_blocks(uint32_t layout, int64_t rows, int64_t cols) {
    if (sdk::is_ggml_k_layout(layout)) return ggml_k_blocks(layout, rows, cols);
    if (sdk::is_ggml_grid_layout(layout)) return ggml_grid_blocks(layout, rows, cols);
    const int64_t block_bytes = sdk::ggml_block_bytes(layout), blocks = rows * cols / 32;
    std::uniform_real_distribution<float> scale(0.001f, 0.02f);
    std::uniform_int_distribution<int> code(layout == FATHOM_LAYOUT_GGML_Q8_0 ? -127 : 0, layout == FATHOM_LAYOUT_GGML_Q8_0 ? 127 : 255);
    std::vector<std::byte> out(static_cast<size_t>(blocks * block_bytes));
    for (int64_t b = 0; b < blocks; ++b) {
      std::byte* block = out.data() + b * block_bytes;
      const float d = scale(rng);
      convert_from_f32(DType::f16, &d, block, 1);
      for (int64_t j = 2; j < block_bytes; ++j) block[j] = static_cast<std::byte>(static_cast<uint8_t>(code(rng)));
      if (layout == FATHOM_LAYOUT_GGML_Q4_1 || layout == FATHOM_LAYOUT_GGML_Q5_1) {
        // W = q · d + m: an offset of about half the codes' range, so that weights centre on zero
        const float m = -d * (layout == FATHOM_LAYOUT_GGML_Q4_1 ? 7.5f : 15.5f) * scale(rng) / 0.0105f;
        convert_from_f32(DType::f16, &m, block + 2, 1);
      }
    }
    return out;
  }
  // The K-quants: random codes of every value and random sub-block scales (Q6_K's int8 ones, Q4_K /
  // Q5_K's 6-bit ones packed in ggml's 12 bytes), so every bit of the layout is exercised, with f16
  // super-block scales d non-uniform per block. Q4_K / Q5_K's mins are drawn near their scales
  // with dmin = d · (top code / 2), which centres the weights on zero as quantised weights are
  // (all-positive weights would make products that int8 activations round much worse than real
  // ones), yet keeps every min different from its scale.
  std::vector<std::byte> ggml_k_blocks(uint32_t layout, int64_t rows, int64_t cols) {
    const int64_t block_bytes = sdk::ggml_block_bytes(layout), blocks = rows * cols / 256;
    std::uniform_real_distribution<float> scale(0.0002f, 0.001f);
    std::uniform_int_distribution<int> byte(0, 255), six_bits(4, 59), near(-4, 4);
    std::vector<std::byte> out(static_cast<size_t>(blocks * block_bytes));
    for (int64_t b = 0; b < blocks; ++b) {
      std::byte* block = out.data() + b * block_bytes;
      for (int64_t j = 0; j < block_bytes; ++j) block[j] = static_cast<std::byte>(static_cast<uint8_t>(byte(rng)));
      const float d = scale(rng);
      if (layout == FATHOM_LAYOUT_GGML_Q6_K || layout == FATHOM_LAYOUT_GGML_Q3_K || layout == FATHOM_LAYOUT_GGML_IQ4_XS) {
        // signed codes and scales
        convert_from_f32(DType::f16, &d, block + (layout == FATHOM_LAYOUT_GGML_Q6_K ? 208 : layout == FATHOM_LAYOUT_GGML_Q3_K ? 108 : 0), 1);
        continue;
      }
      if (layout == FATHOM_LAYOUT_GGML_Q2_K) {  // 4-bit scales and mins, m ≈ 1.5 · sc centring codes 0-3
        std::uniform_int_distribution<int> four_bits(1, 15), nudge(-1, 1);
        convert_from_f32(DType::f16, &d, block + 80, 1);
        convert_from_f32(DType::f16, &d, block + 82, 1);
        for (int s = 0; s < 16; ++s) {
          const int sc = four_bits(rng), m = std::clamp(static_cast<int>(1.5f * static_cast<float>(sc)) + nudge(rng), 0, 15);
          block[s] = static_cast<std::byte>(sc | m << 4);
        }
        continue;
      }
      const float dmin = d * (layout == FATHOM_LAYOUT_GGML_Q4_K ? 7.5f : 15.5f);
      convert_from_f32(DType::f16, &d, block, 1);
      convert_from_f32(DType::f16, &dmin, block + 2, 1);
      uint8_t sc[8], m[8];
      for (int j = 0; j < 8; ++j) {
        sc[j] = static_cast<uint8_t>(six_bits(rng));
        m[j] = static_cast<uint8_t>(sc[j] + near(rng));
      }
      auto* packed = reinterpret_cast<uint8_t*>(block + 4);
      for (int j = 0; j < 4; ++j) {
        packed[j] = static_cast<uint8_t>(sc[j] | (sc[j + 4] >> 4) << 6);
        packed[j + 4] = static_cast<uint8_t>(m[j] | (m[j + 4] >> 4) << 6);
        packed[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0x0F) | (m[j + 4] & 0x0F) << 4);
      }
    }
    return out;
  }
  // The I-quants below 4 bits: every byte random (table indices, signs, scales, IQ1's shifts), so
  // every bit of the layout is exercised, but d, a non-uniform f16 per block (IQ1_M's in the top
  // nibbles of its four u16 of scales).
  std::vector<std::byte> ggml_grid_blocks(uint32_t layout, int64_t rows, int64_t cols) {
    const int64_t block_bytes = sdk::ggml_block_bytes(layout), blocks = rows * cols / 256;
    std::uniform_real_distribution<float> scale(0.0002f, 0.001f);
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<std::byte> out(static_cast<size_t>(blocks * block_bytes));
    for (int64_t b = 0; b < blocks; ++b) {
      std::byte* block = out.data() + b * block_bytes;
      for (int64_t j = 0; j < block_bytes; ++j) block[j] = static_cast<std::byte>(static_cast<uint8_t>(byte(rng)));
      // IQ1's (grid ± 1/8) · (2·s + 1) reach 9/8 · 15, IQ3_S's 15 · 31: scaled to the others' range
      const float d = scale(rng) * (layout == FATHOM_LAYOUT_GGML_IQ3_S ? 0.05f : 1.0f);
      uint16_t bits = 0;
      convert_from_f32(DType::f16, &d, &bits, 1);
      if (layout != FATHOM_LAYOUT_GGML_IQ1_M) {
        std::memcpy(block, &bits, 2);
        continue;
      }
      for (int i = 0; i < 4; ++i) {
        uint16_t u = 0;
        std::memcpy(&u, block + 48 + 2 * i, 2);
        u = static_cast<uint16_t>((u & 0x0FFF) | ((bits >> (4 * i)) & 0xF) << 12);
        std::memcpy(block + 48 + 2 * i, &u, 2);
      }
    }
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

// Element-wise results may differ by a few ulps of the output dtype. Reductions (matmul, norms,
// attention) may also reassociate sums and round their operands to the narrowest dtype involved:
// about one epsilon of that dtype relative to the largest output, with a floor for f32 sums.
// A moe_experts call: x [t, d], the routed ids [t, k] and random route weights, then gate, up
// and down of each of e experts in `wdt` (FP8 with 128x128 block scales), or in GGUF blocks.
void set_moe_experts_call(OpCase& c, Gen& g, uint32_t wdt, const std::vector<int32_t>& ids, int64_t t, int64_t d,
                          int64_t inter, int64_t e, int64_t k, uint32_t ggml_layout = FATHOM_LAYOUT_DENSE) {
  const uint32_t F32 = FATHOM_DTYPE_F32, F8 = FATHOM_DTYPE_F8_E4M3FN;
  std::vector<std::byte> ids_b(ids.size() * 4);
  std::memcpy(ids_b.data(), ids.data(), ids_b.size());
  c.call.op = FATHOM_OP_MOE_EXPERTS;
  c.call.inputs = {tensor(F32, {t, d}, g.normal(F32, t * d)), tensor(FATHOM_DTYPE_I32, {t, k}, ids_b),
                   tensor(F32, {t, k}, g.normal(F32, t * k, 0.5))};
  for (int64_t x = 0; x < e; ++x) {
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{inter, d}, {inter, d}, {d, inter}}) {
      if (wdt == F8) {
        c.call.inputs.push_back(tensor(F8, {rows, cols}, g.fp8_codes(rows * cols), true, FATHOM_LAYOUT_BLOCK_SCALED_128x128));
        const int64_t sr = (rows + 127) / 128, sc = (cols + 127) / 128;
        c.call.inputs.push_back(tensor(F32, {sr, sc}, g.scales(sr * sc), true));
      } else if (ggml_layout != FATHOM_LAYOUT_DENSE) {
        c.call.inputs.push_back(tensor(FATHOM_DTYPE_U8, {rows, cols}, g.ggml_blocks(ggml_layout, rows, cols), true, ggml_layout));
      } else {
        c.call.inputs.push_back(tensor(wdt, {rows, cols}, g.normal(wdt, rows * cols, 0.1), true));
      }
    }
  }
  c.call.outputs = {output(F32, {t, d})};
  c.call.attrs = attrs_bytes(fathom_moe_experts_attrs{static_cast<int32_t>(e), static_cast<int32_t>(k),
                                                      static_cast<int32_t>(d), static_cast<int32_t>(inter)});
}

double tolerance_for(uint32_t dtype, bool reduction) {
  return reduction ? std::max(2.0 * epsilon(dtype), 1e-5) : 4.0 * epsilon(dtype);
}

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
    // FP8 per 1×128 block.
    c.tolerance = kFp8QuantisedActivationTolerance;
    cases.push_back(std::move(c));
  }

  // GGUF's blocks (llama.cpp files): Q8_0, Q4_0, Q4_1, and the types llama-quantize puts where a
  // K-quant's row is not whole blocks of 256 (Q5_0 for Q4_K, Q5_1 for Q5_K, IQ4_NL for Q2_K and
  // Q3_K) in blocks of 32; the K-quants (Q4_K_M files hold Q4_K and Q6_K, Q5_K_M Q5_K and Q6_K,
  // Q3_K_M and Q2_K files Q2_K to Q6_K) and IQ4_XS in blocks of 256. The products at one row (decode), a few,
  // and more than a GEMV takes; K of one and of several blocks.
  struct GgmlCases {
    uint32_t layout;
    std::string name;
    int64_t block;  // weights per block
  };
  for (const GgmlCases& set :
       {GgmlCases{FATHOM_LAYOUT_GGML_Q8_0, "q8_0", 32}, GgmlCases{FATHOM_LAYOUT_GGML_Q4_0, "q4_0", 32},
        GgmlCases{FATHOM_LAYOUT_GGML_Q4_1, "q4_1", 32}, GgmlCases{FATHOM_LAYOUT_GGML_Q5_0, "q5_0", 32},
        GgmlCases{FATHOM_LAYOUT_GGML_Q5_1, "q5_1", 32}, GgmlCases{FATHOM_LAYOUT_GGML_IQ4_NL, "iq4_nl", 32},
        GgmlCases{FATHOM_LAYOUT_GGML_Q2_K, "q2_k", 256}, GgmlCases{FATHOM_LAYOUT_GGML_Q3_K, "q3_k", 256},
        GgmlCases{FATHOM_LAYOUT_GGML_Q4_K, "q4_k", 256}, GgmlCases{FATHOM_LAYOUT_GGML_Q5_K, "q5_k", 256},
        GgmlCases{FATHOM_LAYOUT_GGML_Q6_K, "q6_k", 256}, GgmlCases{FATHOM_LAYOUT_GGML_IQ4_XS, "iq4_xs", 256},
        GgmlCases{FATHOM_LAYOUT_GGML_IQ2_XXS, "iq2_xxs", 256}, GgmlCases{FATHOM_LAYOUT_GGML_IQ2_XS, "iq2_xs", 256},
        GgmlCases{FATHOM_LAYOUT_GGML_IQ2_S, "iq2_s", 256}, GgmlCases{FATHOM_LAYOUT_GGML_IQ3_XXS, "iq3_xxs", 256},
        GgmlCases{FATHOM_LAYOUT_GGML_IQ3_S, "iq3_s", 256}, GgmlCases{FATHOM_LAYOUT_GGML_IQ1_S, "iq1_s", 256},
        GgmlCases{FATHOM_LAYOUT_GGML_IQ1_M, "iq1_m", 256}}) {
    const bool k_quant = set.block == 256;
    const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes =
        k_quant ? std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 256, 7}, {5, 512, 130}, {40, 256, 33}}
                : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 32, 7}, {5, 256, 130}, {40, 96, 33}};
    for (auto [t, k, n] : shapes) {
      OpCase c;
      c.name = "matmul_ggml_" + set.name + "_T" + std::to_string(t) + "_K" + std::to_string(k) + "_N" + std::to_string(n);
      c.call.op = FATHOM_OP_MATMUL;
      c.call.inputs = {tensor(F32, {t, k}, g.normal(F32, t * k)),
                       tensor(FATHOM_DTYPE_U8, {n, k}, g.ggml_blocks(set.layout, n, k), true, set.layout)};
      c.call.outputs = {output(F32, {t, n})};
      c.tolerance = tolerance_for(F32, true);  // each weight exact in f32, or rounded once as the reference's
      cases.push_back(std::move(c));
    }
    {
      const int64_t vocab = k_quant ? 20 : 50, width = k_quant ? 256 : 64, t = 9;
      OpCase c;
      c.name = "embedding_ggml_" + set.name + "_V" + std::to_string(vocab) + "_D" + std::to_string(width) + "_T9";
      c.call.op = FATHOM_OP_EMBEDDING;
      c.call.inputs = {tensor(FATHOM_DTYPE_I32, {t}, g.ids(t, vocab)),
                       tensor(FATHOM_DTYPE_U8, {vocab, width}, g.ggml_blocks(set.layout, vocab, width), true, set.layout)};
      c.call.outputs = {output(F32, {t, width})};
      c.tolerance = 0;  // the same expression as the reference's, value by value
      cases.push_back(std::move(c));
    }
    {
      OpCase c;
      c.name = "moe_experts_ggml_" + set.name + "_E4_K2_T6";
      const std::vector<int32_t> ids = {0, 3, 1, 3, 2, 0, 3, 1, 0, 2, 1, 3};
      set_moe_experts_call(c, g, FATHOM_DTYPE_U8, ids, 6, k_quant ? 256 : 64, k_quant ? 256 : 32, 4, 2, set.layout);
      c.tolerance = tolerance_for(F32, true);
      cases.push_back(std::move(c));
    }
  }

  // RoPE with YaRN on the rope part of each head (q: 3 heads of 24 with 8 rotated at offset 16)
  // and on a bare k_pe row; positions well past the YaRN original length.
  for (auto [heads, head_dim, offset] : {std::tuple<int64_t, int64_t, int64_t>{3, 24, 16}, {1, 8, 0}}) {
    const int64_t t = 5, width = heads * head_dim;
    OpCase c;
    c.name = "rope_yarn_H" + std::to_string(heads) + "_Dh" + std::to_string(head_dim);
    c.call.op = FATHOM_OP_ROPE_YARN;
    std::vector<int32_t> pos = {0, 1, 17, 4095, 9000};
    std::vector<std::byte> pos_bytes(pos.size() * 4);
    std::memcpy(pos_bytes.data(), pos.data(), pos_bytes.size());
    c.call.inputs = {tensor(F32, {t, width}, g.normal(F32, t * width)), tensor(FATHOM_DTYPE_I32, {t}, pos_bytes)};
    c.call.outputs = {output(F32, {t, width})};
    c.call.attrs = attrs_bytes(fathom_rope_attrs{static_cast<int32_t>(head_dim), static_cast<int32_t>(offset), 8, 10000.f,
                                                 40.f, 4096, 32.f, 1.f, 1.f});
    c.tolerance = tolerance_for(F32, true);
    cases.push_back(std::move(c));
  }

  // MLA over a cache that already holds a random history: a batch of 4 tokens from 3 sequences
  // at different positions (continuous batching), both forms, bf16 and block-scaled FP8 kv_b.
  // The third geometry (5 heads of 16 + 13 rows) puts head 4's W_UK rows across a 128-row scale
  // block, which a backend reading kv_b per block must split. A bf16 cache (runtime.kv_cache_dtype)
  // holds the history as bf16 and gets the new entries rounded to bf16 before they are read.
  for (int absorbed = 0; absorbed < 2; ++absorbed) {
    for (auto [wdt, h, dv, cache_dt] : {std::tuple<uint32_t, int64_t, int64_t, uint32_t>{BF16, 3, 12, F32}, {F8, 3, 12, F32},
                                        {F8, 5, 13, F32}, {BF16, 3, 12, BF16}, {F8, 5, 13, BF16}}) {
      const int64_t dn = 16, dr = 8, cr = 144, slots = 3, len = 12, t = 4;
      OpCase c;
      c.name = std::string("mla_") + (absorbed ? "absorbed" : "naive") + "_kvb" + dname(wdt) + (h == 5 ? "_H5_across_blocks" : "") +
               (cache_dt == BF16 ? "_cache_bf16" : "");
      c.call.op = FATHOM_OP_MLA_ATTENTION;
      std::vector<int32_t> pos = {5, 2, 0, 6}, slot = {0, 1, 2, 0};
      std::vector<std::byte> pos_b(16), slot_b(16);
      std::memcpy(pos_b.data(), pos.data(), 16);
      std::memcpy(slot_b.data(), slot.data(), 16);
      const int64_t rows = h * (dn + dv);
      c.call.inputs = {tensor(F32, {t, h * (dn + dr)}, g.normal(F32, t * h * (dn + dr))),
                       tensor(F32, {t, cr}, g.normal(F32, t * cr)),
                       tensor(F32, {t, dr}, g.normal(F32, t * dr)),
                       tensor(FATHOM_DTYPE_I32, {t}, pos_b),
                       tensor(FATHOM_DTYPE_I32, {t}, slot_b)};
      if (wdt == F8) {
        c.call.inputs.push_back(tensor(F8, {rows, cr}, g.fp8_codes(rows * cr), true, FATHOM_LAYOUT_BLOCK_SCALED_128x128));
        c.call.inputs.push_back(tensor(F32, {(rows + 127) / 128, (cr + 127) / 128}, g.scales(((rows + 127) / 128) * ((cr + 127) / 128)), true));
      } else {
        c.call.inputs.push_back(tensor(wdt, {rows, cr}, g.normal(wdt, rows * cr, 0.1), true));
      }
      c.call.inputs.push_back(tensor(cache_dt, {slots, len, cr + dr}, g.normal(cache_dt, slots * len * (cr + dr))));
      c.call.outputs = {output(F32, {t, h * dv})};
      c.call.attrs = attrs_bytes(fathom_mla_attrs{static_cast<int32_t>(h), static_cast<int32_t>(dn), static_cast<int32_t>(dr),
                                                  static_cast<int32_t>(dv), static_cast<int32_t>(cr), absorbed, 0.135234f, 0});
      c.tolerance = tolerance_for(wdt == F8 ? F32 : wdt, true);
      cases.push_back(std::move(c));
    }
  }

  // Routers: V3 (sigmoid, bias, 4 groups keep 2, top-3, renormalised, × 2.5) and V2-Lite
  // (softmax, greedy top-6, raw probabilities).
  for (bool v3 : {true, false}) {
    const int64_t t = 9, d = 70, e = v3 ? 16 : 12;
    OpCase c;
    c.name = v3 ? "moe_route_sigmoid_noaux_tc" : "moe_route_softmax_greedy";
    c.call.op = FATHOM_OP_MOE_ROUTE;
    c.call.inputs = {tensor(F32, {t, d}, g.normal(F32, t * d)), tensor(BF16, {e, d}, g.normal(BF16, e * d, 0.2), true)};
    if (v3) c.call.inputs.push_back(tensor(F32, {e}, g.normal(F32, e, 0.5), true));
    const int64_t k = v3 ? 3 : 6;
    c.call.outputs = {output(FATHOM_DTYPE_I32, {t, k}), output(F32, {t, k})};
    c.call.attrs = attrs_bytes(v3 ? fathom_moe_route_attrs{16, 3, 4, 2, FATHOM_SCORING_SIGMOID, FATHOM_TOPK_NOAUX_TC, 1, 1, 2.5f, 0}
                                  : fathom_moe_route_attrs{12, 6, 1, 1, FATHOM_SCORING_SOFTMAX, FATHOM_TOPK_GREEDY, 0, 0, 1.f, 0});
    c.tolerance = tolerance_for(F32, true);
    cases.push_back(std::move(c));
  }

  // Routed experts: 6 experts, top-2, bf16 and block-scaled FP8 matrices with ragged blocks.
  for (uint32_t wdt : {BF16, F8}) {
    const int64_t t = 5, d = 136, inter = 72, e = 6, k = 2;
    OpCase c;
    c.name = "moe_experts_" + dname(wdt);
    std::vector<int32_t> ids = {0, 3, 5, 3, 1, 2, 3, 4, 5, 0};
    set_moe_experts_call(c, g, wdt, ids, t, d, inter, e, k);
    c.tolerance = wdt == F8 ? kFp8QuantisedActivationTolerance : tolerance_for(wdt, true);
    cases.push_back(std::move(c));
  }

  // Matmuls sized for the CPU backend's three paths: M from 1 to past oneDNN's exact per-M table
  // (32) and its 64-row chunks, around the GEMV limit (gemv_max_rows: 16, or 48 on AVX-512 with f32 products; the cpu
  // variants force each path for every M), K neither a
  // multiple of 8 nor of 16 and N not a multiple of the 8-row GEMV blocks. The two long-K cases
  // with one and two rows are for the GPU decode kernel, whose warps take turns over K's
  // 256-element chunks: more chunks than a block has warps, once with K a multiple of 8.
  for (auto [t, k, n] : {std::tuple<int64_t, int64_t, int64_t>{2, 203, 67}, {3, 64, 130}, {5, 1000, 70}, {8, 515, 96},
                         {9, 136, 41}, {17, 300, 65}, {32, 129, 257}, {33, 256, 300}, {64, 72, 33}, {100, 190, 77},
                         {1, 2600, 70}, {2, 2309, 37}}) {
    for (uint32_t wdt : {F32, BF16, F16}) {
      OpCase c;
      c.name = "matmul_paths_" + dname(wdt) + "w_T" + std::to_string(t) + "_K" + std::to_string(k) + "_N" + std::to_string(n);
      c.call.op = FATHOM_OP_MATMUL;
      c.call.inputs = {tensor(F32, {t, k}, g.normal(F32, t * k)), tensor(wdt, {n, k}, g.normal(wdt, n * k, 0.1), true)};
      c.call.outputs = {output(F32, {t, n})};
      c.tolerance = tolerance_for(wdt, true);
      cases.push_back(std::move(c));
    }
  }
  for (auto [t, k, n] : {std::tuple<int64_t, int64_t, int64_t>{2, 130, 260}, {9, 400, 129}, {33, 256, 136}, {100, 136, 300},
                         {1, 2560, 131}, {300, 136, 130}}) {  // T = 300: the cpu GEMV's rows of x in two chunks
    OpCase c;
    c.name = "matmul_paths_fp8block_T" + std::to_string(t) + "_K" + std::to_string(k) + "_N" + std::to_string(n);
    c.call.op = FATHOM_OP_MATMUL;
    const int64_t sn = (n + 127) / 128, sk = (k + 127) / 128;
    c.call.inputs = {tensor(F32, {t, k}, g.normal(F32, t * k)),
                     tensor(F8, {n, k}, g.fp8_codes(n * k), true, FATHOM_LAYOUT_BLOCK_SCALED_128x128),
                     tensor(F32, {sn, sk}, g.scales(sn * sk), true)};
    c.call.outputs = {output(F32, {t, n})};
    c.tolerance = kFp8QuantisedActivationTolerance;
    cases.push_back(std::move(c));
  }

  // Element-wise ops and RMSNorm large enough to be split over threads.
  for (uint32_t op : {uint32_t{FATHOM_OP_ADD}, uint32_t{FATHOM_OP_SILU_MUL}}) {
    const int64_t t = 40, f = 4001;
    OpCase c;
    c.name = std::string(op == FATHOM_OP_ADD ? "add" : "silu_mul") + "_f32_T40_F4001";
    c.call.op = op;
    c.call.inputs = {tensor(F32, {t, f}, g.normal(F32, t * f, 4.0)), tensor(F32, {t, f}, g.normal(F32, t * f))};
    c.call.outputs = {output(F32, {t, f})};
    c.tolerance = tolerance_for(F32, false);
    cases.push_back(std::move(c));
  }
  {
    const int64_t t = 70, d = 2050;
    OpCase c;
    c.name = "rms_norm_wbf16_T70_D2050";
    c.call.op = FATHOM_OP_RMS_NORM;
    c.call.inputs = {tensor(F32, {t, d}, g.normal(F32, t * d, 3.0)), tensor(BF16, {d}, g.normal(BF16, d), true)};
    c.call.outputs = {output(F32, {t, d})};
    c.call.attrs = attrs_bytes(fathom_rms_norm_attrs{1e-6f});
    c.tolerance = tolerance_for(F32, true);
    cases.push_back(std::move(c));
  }

  // MLA with a prefill-like batch (one sequence, consecutive positions after a cached prefix)
  // next to decode tokens of two other sequences; C and the head sizes are not multiples of 8.
  for (int absorbed = 0; absorbed < 2; ++absorbed) {
    for (auto [wdt, cache_dt] : {std::pair<uint32_t, uint32_t>{F32, F32}, {BF16, F32}, {F8, F32}, {F8, BF16}}) {
      const int64_t h = 4, dn = 20, dr = 6, dv = 13, cr = 203, slots = 3, len = 48, t = 22;
      OpCase c;
      c.name = std::string("mla_batch_") + (absorbed ? "absorbed" : "naive") + "_kvb" + dname(wdt) +
               (cache_dt == BF16 ? "_cache_bf16" : "");
      c.call.op = FATHOM_OP_MLA_ATTENTION;
      std::vector<int32_t> pos, slot;
      for (int32_t i = 0; i < 20; ++i) pos.push_back(7 + i), slot.push_back(2);  // prefill 7..26 of sequence 2
      pos.push_back(40), slot.push_back(0);
      pos.push_back(0), slot.push_back(1);
      std::vector<std::byte> pos_b(pos.size() * 4), slot_b(slot.size() * 4);
      std::memcpy(pos_b.data(), pos.data(), pos_b.size());
      std::memcpy(slot_b.data(), slot.data(), slot_b.size());
      const int64_t rows = h * (dn + dv);
      c.call.inputs = {tensor(F32, {t, h * (dn + dr)}, g.normal(F32, t * h * (dn + dr))),
                       tensor(F32, {t, cr}, g.normal(F32, t * cr)),
                       tensor(F32, {t, dr}, g.normal(F32, t * dr)),
                       tensor(FATHOM_DTYPE_I32, {t}, pos_b),
                       tensor(FATHOM_DTYPE_I32, {t}, slot_b)};
      if (wdt == F8) {
        const int64_t sr = (rows + 127) / 128, sc = (cr + 127) / 128;
        c.call.inputs.push_back(tensor(F8, {rows, cr}, g.fp8_codes(rows * cr), true, FATHOM_LAYOUT_BLOCK_SCALED_128x128));
        c.call.inputs.push_back(tensor(F32, {sr, sc}, g.scales(sr * sc), true));
      } else {
        c.call.inputs.push_back(tensor(wdt, {rows, cr}, g.normal(wdt, rows * cr, 0.1), true));
      }
      c.call.inputs.push_back(tensor(cache_dt, {slots, len, cr + dr}, g.normal(cache_dt, slots * len * (cr + dr))));
      c.call.outputs = {output(F32, {t, h * dv})};
      c.call.attrs = attrs_bytes(fathom_mla_attrs{static_cast<int32_t>(h), static_cast<int32_t>(dn), static_cast<int32_t>(dr),
                                                  static_cast<int32_t>(dv), static_cast<int32_t>(cr), absorbed, 0.19f, 0});
      // f32 attention chains four reductions (q·W_uk, scores over the rank, the softmax-weighted
      // sum over positions, W_uv), each rounding terms larger than its result: FP8 weights with
      // random scales give outputs that cancel, and the scalar table measured 1.04e-5 of max|ref|
      // (seed 13122679098637). Four times the single-reduction bound; a wrong index or scale
      // moves outputs by their own size.
      c.tolerance = wdt == BF16 ? tolerance_for(BF16, true) : 4 * tolerance_for(F32, true);
      cases.push_back(std::move(c));
    }
  }

  // MLA over a long prefill: one sequence of 150 new tokens after 10 cached ones, beside a second
  // sequence's decode token, two of its tokens swapped across a block of 64 (the cpu naive form
  // scores a block against the longest prefix in it), the last token out of order.
  for (int absorbed = 0; absorbed < 2; ++absorbed) {
    const int64_t h = 2, dn = 16, dr = 8, dv = 12, cr = 72, slots = 2, len = 176, prefill = 150, t = prefill + 1;
    OpCase c;
    c.name = std::string("mla_long_prefill_") + (absorbed ? "absorbed" : "naive") + "_T" + std::to_string(t);
    c.call.op = FATHOM_OP_MLA_ATTENTION;
    std::vector<int32_t> pos, slot;
    for (int32_t i = 0; i < prefill; ++i) pos.push_back(10 + i), slot.push_back(0);
    std::swap(pos[60], pos[70]);
    std::swap(pos[5], pos[prefill - 1]);
    pos.push_back(30), slot.push_back(1);
    std::vector<std::byte> pos_b(pos.size() * 4), slot_b(slot.size() * 4);
    std::memcpy(pos_b.data(), pos.data(), pos_b.size());
    std::memcpy(slot_b.data(), slot.data(), slot_b.size());
    const int64_t rows = h * (dn + dv);
    c.call.inputs = {tensor(F32, {t, h * (dn + dr)}, g.normal(F32, t * h * (dn + dr))),
                     tensor(F32, {t, cr}, g.normal(F32, t * cr)),
                     tensor(F32, {t, dr}, g.normal(F32, t * dr)),
                     tensor(FATHOM_DTYPE_I32, {t}, pos_b),
                     tensor(FATHOM_DTYPE_I32, {t}, slot_b),
                     tensor(F32, {rows, cr}, g.normal(F32, rows * cr, 0.1), true),
                     tensor(F32, {slots, len, cr + dr}, g.normal(F32, slots * len * (cr + dr)))};
    c.call.outputs = {output(F32, {t, h * dv})};
    c.call.attrs = attrs_bytes(fathom_mla_attrs{static_cast<int32_t>(h), static_cast<int32_t>(dn), static_cast<int32_t>(dr),
                                                static_cast<int32_t>(dv), static_cast<int32_t>(cr), absorbed, 0.19f, 0});
    c.tolerance = 4 * tolerance_for(F32, true);  // as the batch cases above
    cases.push_back(std::move(c));
  }

  // A V3-sized router (64 experts in 8 groups, keep 4, top-8) on a batch of 33 tokens.
  {
    const int64_t t = 33, d = 300, e = 64, k = 8;
    OpCase c;
    c.name = "moe_route_sigmoid_noaux_tc_E64_T33";
    c.call.op = FATHOM_OP_MOE_ROUTE;
    c.call.inputs = {tensor(F32, {t, d}, g.normal(F32, t * d)), tensor(BF16, {e, d}, g.normal(BF16, e * d, 0.1), true),
                     tensor(F32, {e}, g.normal(F32, e, 0.1), true)};
    c.call.outputs = {output(FATHOM_DTYPE_I32, {t, k}), output(F32, {t, k})};
    c.call.attrs = attrs_bytes(fathom_moe_route_attrs{64, 8, 8, 4, FATHOM_SCORING_SIGMOID, FATHOM_TOPK_NOAUX_TC, 1, 1, 2.5f, 0});
    c.tolerance = tolerance_for(F32, true);
    cases.push_back(std::move(c));
  }

  // Routed experts on a prefill-sized batch: 40 tokens × top-4 over 8 experts, expert 7 never
  // chosen and expert 0 chosen by nearly every token (so experts get from 0 to 40 rows: GEMV,
  // oneDNN and tile paths in one call), D and I not multiples of 8.
  for (uint32_t wdt : {F32, BF16, F8}) {
    const int64_t t = 40, d = 138, inter = 75, e = 8, k = 4;
    OpCase c;
    c.name = "moe_experts_batch_" + dname(wdt);
    std::vector<int32_t> ids;
    std::uniform_int_distribution<int32_t> pick(1, 6);
    for (int64_t i = 0; i < t; ++i) {
      std::vector<int32_t> row{i % 9 == 0 ? 3 : 0};
      while (static_cast<int64_t>(row.size()) < k) {
        int32_t x = pick(g.rng);
        if (std::find(row.begin(), row.end(), x) == row.end()) row.push_back(x);
      }
      ids.insert(ids.end(), row.begin(), row.end());
    }
    set_moe_experts_call(c, g, wdt, ids, t, d, inter, e, k);
    c.tolerance = wdt == F8 ? kFp8QuantisedActivationTolerance : tolerance_for(wdt, true);
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

uint64_t case_seed() {
  static const uint64_t seed = [] {
    if (const char* s = std::getenv("FATHOM_CONFORMANCE_SEED")) return static_cast<uint64_t>(std::strtoull(s, nullptr, 10));
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }();
  return seed;
}

namespace {

std::vector<float> as_f32(const OpTensor& t) {
  size_t n = t.data.size() / dtype_size(dtype_from_id(t.desc.dtype));
  std::vector<float> v(n);
  convert_to_f32(dtype_from_id(t.desc.dtype), t.data.data(), v.data(), n);
  return v;
}

}  // namespace

// Compares got against ref; on failure describes the worst element and the first mismatches.
::testing::AssertionResult close_to_reference(const OpTensor& got, const OpTensor& ref, double tolerance) {
  std::vector<float> g = as_f32(got), r = as_f32(ref);
  if (g.size() != r.size()) return ::testing::AssertionFailure() << "output sizes differ";
  double max_ref = 0, max_diff = 0;
  size_t worst = 0;
  for (size_t i = 0; i < r.size(); ++i) max_ref = std::max(max_ref, std::fabs(static_cast<double>(r[i])));
  const double allowed = tolerance * std::max(max_ref, 1e-30);
  std::ostringstream first;
  int shown = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    double d = std::isnan(g[i]) != std::isnan(r[i]) ? INFINITY : std::fabs(static_cast<double>(g[i]) - r[i]);
    if (std::isnan(g[i]) && std::isnan(r[i])) d = 0;
    if (d > max_diff) max_diff = d, worst = i;
    if (d > allowed && shown < 5) first << "\n  [" << i << "] got " << g[i] << " want " << r[i], ++shown;
  }
  if (max_diff <= allowed) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max |got − ref| = " << max_diff << " at element " << worst << " (allowed "
                                       << allowed << " = " << tolerance << " × max|ref| " << max_ref << ")"
                                       << first.str();
}


std::vector<std::tuple<std::string, size_t>> backend_case_params(size_t n_cases) {
  std::vector<std::tuple<std::string, size_t>> p;
  for (const auto& name : other_backend_names()) {
    for (size_t i = 0; i < n_cases; ++i) p.emplace_back(name, i);
  }
  return p;
}

std::string backend_case_name(const std::string& backend, const std::string& case_name) {
  std::string s = backend + "_" + case_name;
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

}  // namespace fathom::test
