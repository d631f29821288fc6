// Conformance cases sized for the GPU backends' paths (they run on every backend, like the
// others): the cuBLASLt block-scaled FP8 matmul around its layout rules (M padded to 4,
// weight-scale rows padded to 4 blocks, token-contiguous activation scales), the grouped
// expert products past the decode kernel, MLA over long caches split across blocks, and a
// router with more experts than warp lanes.
#include <cmath>
#include <cstring>
#include <string>

#include "gpu_op_cases.h"

#include "case_inputs.h"

#include "fathom/core/dtype.h"

namespace fathom::test {

namespace {

constexpr uint32_t F32 = FATHOM_DTYPE_F32, BF16 = FATHOM_DTYPE_BF16, F8 = FATHOM_DTYPE_F8_E4M3FN, I32 = FATHOM_DTYPE_I32;

void add_block_scaled_matmuls(Draw& g, std::vector<OpCase>& cases) {
  // M = 1, 3, 4 (decode kernel), 17 and 64 (cuBLASLt where available: M padded to 20 and 64);
  // K = 512 (4 scale blocks: no padding) and 768 (6: rows padded to 8).
  for (int64_t k : {512, 768}) {
    for (int64_t t : {1, 3, 4, 17, 64}) {
      const int64_t n = 256, sn = 2, sk = k / 128;
      // Rows and 128-blocks of x at different magnitudes, so that the per-token activation
      // scales differ along both axes: read in the wrong order, they saturate or lose values.
      std::vector<float> x = g.normal(static_cast<size_t>(t * k));
      for (int64_t r = 0; r < t; ++r) {
        for (int64_t c = 0; c < k; ++c) x[static_cast<size_t>(r * k + c)] *= static_cast<float>((1 + 7 * (r % 3)) * (1 + (c / 128) % 4));
      }
      OpCase c;
      c.name = "matmul_fp8blockscaled_T" + std::to_string(t) + "_K" + std::to_string(k) + "_N" + std::to_string(n);
      c.call.op = FATHOM_OP_MATMUL;
      c.call.inputs = {tensor(F32, {t, k}, g.as(F32, x)),
                       tensor(F8, {n, k}, g.fp8_codes(static_cast<size_t>(n * k)), true, FATHOM_LAYOUT_BLOCK_SCALED_128x128),
                       tensor(F32, {sn, sk}, g.scales(static_cast<size_t>(sn * sk)), true)};
      c.call.outputs = {output(F32, {t, n})};
      c.tolerance = kFp8QuantisedActivationTolerance;  // activations quantised on the tensor-core path
      cases.push_back(std::move(c));
    }
  }
}

// moe_experts over t tokens, top-k of e experts: token i's j-th choice is (i + 2j) mod (e - 1),
// so expert e - 1 is never chosen.
OpCase grouped_experts(Draw& g, const std::string& name, uint32_t wdt, int64_t t, int64_t d, int64_t inter, int64_t e,
                       int64_t k) {
  std::vector<int32_t> ids(static_cast<size_t>(t * k));
  for (int64_t i = 0; i < t; ++i) {
    for (int64_t j = 0; j < k; ++j) ids[static_cast<size_t>(i * k + j)] = static_cast<int32_t>((i + 2 * j) % (e - 1));
  }
  OpCase c;
  c.name = name;
  c.call.op = FATHOM_OP_MOE_EXPERTS;
  c.call.inputs = {tensor(F32, {t, d}, g.as(F32, g.normal(static_cast<size_t>(t * d)))), tensor(I32, {t, k}, g.ints(ids)),
                   tensor(F32, {t, k}, g.as(F32, g.normal(static_cast<size_t>(t * k), 0.5)))};
  for (int64_t x = 0; x < e; ++x) {
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{inter, d}, {inter, d}, {d, inter}}) {
      if (wdt == F8) {
        c.call.inputs.push_back(tensor(F8, {rows, cols}, g.fp8_codes(static_cast<size_t>(rows * cols)), true,
                                       FATHOM_LAYOUT_BLOCK_SCALED_128x128));
        const int64_t sr = (rows + 127) / 128, sc = (cols + 127) / 128;
        c.call.inputs.push_back(tensor(F32, {sr, sc}, g.scales(static_cast<size_t>(sr * sc)), true));
      } else {
        c.call.inputs.push_back(tensor(BF16, {rows, cols}, g.as(BF16, g.normal(static_cast<size_t>(rows * cols), 0.1)), true));
      }
    }
  }
  c.call.outputs = {output(F32, {t, d})};
  c.call.attrs = attrs_bytes(fathom_moe_experts_attrs{static_cast<int32_t>(e), static_cast<int32_t>(k),
                                                      static_cast<int32_t>(d), static_cast<int32_t>(inter)});
  c.tolerance = wdt == F8 ? kFp8QuantisedActivationTolerance : tolerance_for(BF16, true);
  return c;
}

void add_grouped_experts(Draw& g, std::vector<OpCase>& cases) {
  // 40 tokens, top-3 of 8 experts: past the decode kernel's 16 rows.
  cases.push_back(grouped_experts(g, "moe_experts_grouped_bf16_T40", BF16, 40, 136, 80, 8, 3));
  cases.push_back(grouped_experts(g, "moe_experts_grouped_fp8_T40", F8, 40, 136, 80, 8, 3));
  // The GPU dispatch around its one-block kernel: 2100 pairs (past it: count, offsets, scatter
  // kernels), and 300 experts (in it, with more experts than threads).
  cases.push_back(grouped_experts(g, "moe_experts_dispatch_T700_top3", BF16, 700, 16, 8, 8, 3));
  cases.push_back(grouped_experts(g, "moe_experts_dispatch_E300_T3_top6", BF16, 3, 16, 8, 300, 6));
}

void add_long_mla(Draw& g, std::vector<OpCase>& cases) {
  // Decode over a 300-position history (split across blocks), and a 20-token chunk of one
  // sequence continuing at position 100 (prefill-like: later tokens see earlier ones of the
  // same call). 10 heads: not a whole number of 8-head groups. bf16 cache.
  for (bool chunk : {false, true}) {
    const int64_t h = 10, dn = 32, dr = 16, dv = 24, cr = 160, slots = 2, len = 320;
    const int64_t t = chunk ? 20 : 2;
    std::vector<int32_t> pos(static_cast<size_t>(t)), slot(static_cast<size_t>(t));
    for (int64_t i = 0; i < t; ++i) {
      pos[static_cast<size_t>(i)] = chunk ? static_cast<int32_t>(100 + i) : (i == 0 ? 299 : 7);
      slot[static_cast<size_t>(i)] = chunk ? 1 : static_cast<int32_t>(i);
    }
    const int64_t rows = h * (dn + dv);
    OpCase c;
    c.name = chunk ? "mla_absorbed_chunk_T20_pos100_bf16cache" : "mla_absorbed_decode_pos299_bf16cache";
    c.call.op = FATHOM_OP_MLA_ATTENTION;
    c.call.inputs = {tensor(F32, {t, h * (dn + dr)}, g.as(F32, g.normal(static_cast<size_t>(t * h * (dn + dr))))),
                     tensor(F32, {t, cr}, g.as(F32, g.normal(static_cast<size_t>(t * cr)))),
                     tensor(F32, {t, dr}, g.as(F32, g.normal(static_cast<size_t>(t * dr)))),
                     tensor(I32, {t}, g.ints(pos)),
                     tensor(I32, {t}, g.ints(slot)),
                     tensor(BF16, {rows, cr}, g.as(BF16, g.normal(static_cast<size_t>(rows * cr), 0.1)), true),
                     tensor(BF16, {slots, len, cr + dr}, g.as(BF16, g.normal(static_cast<size_t>(slots * len * (cr + dr)))))};
    c.call.outputs = {output(F32, {t, h * dv})};
    c.call.attrs = attrs_bytes(fathom_mla_attrs{static_cast<int32_t>(h), static_cast<int32_t>(dn), static_cast<int32_t>(dr),
                                                static_cast<int32_t>(dv), static_cast<int32_t>(cr), 1, 0.0722f, 0});
    // The new tokens are stored in the bf16 cache before attending, in every backend.
    c.tolerance = tolerance_for(BF16, true);
    cases.push_back(std::move(c));
  }
}

void add_wide_router(Draw& g, std::vector<OpCase>& cases) {
  // 64 experts in 8 groups (2 per warp lane), V3-style scoring, 20 tokens.
  const int64_t t = 20, d = 96, e = 64, k = 6;
  OpCase c;
  c.name = "moe_route_sigmoid_noaux_tc_E64";
  c.call.op = FATHOM_OP_MOE_ROUTE;
  c.call.inputs = {tensor(F32, {t, d}, g.as(F32, g.normal(static_cast<size_t>(t * d)))),
                   tensor(BF16, {e, d}, g.as(BF16, g.normal(static_cast<size_t>(e * d), 0.2)), true),
                   tensor(F32, {e}, g.as(F32, g.normal(static_cast<size_t>(e), 0.5)), true)};
  c.call.outputs = {output(I32, {t, k}), output(F32, {t, k})};
  c.call.attrs = attrs_bytes(fathom_moe_route_attrs{64, 6, 8, 3, FATHOM_SCORING_SIGMOID, FATHOM_TOPK_NOAUX_TC, 1, 1, 2.5f, 0});
  c.tolerance = tolerance_for(F32, true);
  cases.push_back(std::move(c));
}

}  // namespace

std::vector<OpCase> make_gpu_path_cases(uint64_t seed) {
  Draw g{std::mt19937_64(seed ^ 0x9e3779b97f4a7c15ull)};
  std::vector<OpCase> cases;
  add_block_scaled_matmuls(g, cases);
  add_grouped_experts(g, cases);
  add_long_mla(g, cases);
  add_wide_router(g, cases);
  return cases;
}

}  // namespace fathom::test
