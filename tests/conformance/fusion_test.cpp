// Segments of several nodes on every backend, compared with the reference backend: the runs of
// nodes a backend may compute with one fused op (the GPU backends' fusions,
// backends/cuda/runtime/fusion.h), at row counts on both sides of where a fused op hands back
// to the nodes' own ops, and look-alikes that must not be fused because a tensor in the middle
// is read elsewhere. Each segment runs twice, so that a GPU backend also replays its capture.
#include <gtest/gtest.h>

#include <string>

#include "case_inputs.h"
#include "fathom/core/error.h"
#include "op_cases.h"
#include "plugin_fixture.h"

namespace fathom::test {
namespace {

constexpr uint32_t F32 = FATHOM_DTYPE_F32, BF16 = FATHOM_DTYPE_BF16, F8 = FATHOM_DTYPE_F8_E4M3FN;

struct SegmentCase {
  std::string name;
  SegmentCall call;
  double tolerance;
};

// A weight matrix [n][k] (with its block scales when FP8) as segment tensors; returns the
// indices to append to a matmul's inputs.
std::vector<uint32_t> add_weight(SegmentCall& s, Draw& d, uint32_t dtype, int64_t n, int64_t k) {
  if (dtype == F8) {
    const int64_t sn = (n + 127) / 128, sk = (k + 127) / 128;
    const uint32_t w = s.add(tensor(F8, {n, k}, d.fp8_codes(static_cast<size_t>(n * k)), true,
                                    FATHOM_LAYOUT_BLOCK_SCALED_128x128),
                             FATHOM_ROLE_WEIGHT);
    const uint32_t sc = s.add(tensor(F32, {sn, sk}, d.scales(static_cast<size_t>(sn * sk)), true), FATHOM_ROLE_WEIGHT);
    return {w, sc};
  }
  return {s.add(tensor(dtype, {n, k}, d.as(dtype, d.normal(static_cast<size_t>(n * k), 0.1)), true), FATHOM_ROLE_WEIGHT)};
}

// matmul(x, W_gate) -> g; matmul(x, W_up) -> u; silu_mul(g, u) -> y: DeepSeek's dense MLP and
// shared experts before the down projection. `gate_is_output`: g is also a segment output.
SegmentCase swiglu(Draw& d, int64_t t, int64_t k, int64_t n, uint32_t wdt, bool gate_is_output = false) {
  SegmentCase c;
  SegmentCall& s = c.call;
  const uint32_t x = s.add(tensor(F32, {t, k}, d.as(F32, d.normal(static_cast<size_t>(t * k)))), FATHOM_ROLE_INPUT);
  std::vector<uint32_t> gate_in{x}, up_in{x};
  for (uint32_t w : add_weight(s, d, wdt, n, k)) gate_in.push_back(w);
  for (uint32_t w : add_weight(s, d, wdt, n, k)) up_in.push_back(w);
  const uint32_t g = s.add(output(F32, {t, n}), gate_is_output ? FATHOM_ROLE_OUTPUT : FATHOM_ROLE_INTERNAL);
  const uint32_t u = s.add(output(F32, {t, n}), FATHOM_ROLE_INTERNAL);
  const uint32_t y = s.add(output(F32, {t, n}), FATHOM_ROLE_OUTPUT);
  s.nodes = {{FATHOM_OP_MATMUL, gate_in, {g}, {}}, {FATHOM_OP_MATMUL, up_in, {u}, {}}, {FATHOM_OP_SILU_MUL, {g, u}, {y}, {}}};
  const char* wname = wdt == F8 ? "fp8block" : wdt == BF16 ? "bf16" : "f32";
  c.name = std::string("swiglu_") + wname + "_T" + std::to_string(t) + "_K" + std::to_string(k) + "_N" + std::to_string(n) +
           (gate_is_output ? "_gate_also_output" : "");
  c.tolerance = wdt == F8 ? kFp8QuantisedPairTolerance : tolerance_for(wdt, true);
  return c;
}

// rms_norm(h, w) -> x, the norm that ends the residual-add segments: a bf16 weight of `width`
// (drawn here) and an output x, eps 1e-6 as DeepSeek's configs.
SegmentCall::Node residual_norm(SegmentCall& s, Draw& d, uint32_t h, int64_t t, int64_t width) {
  const uint32_t w = s.add(tensor(BF16, {width}, d.as(BF16, d.normal(static_cast<size_t>(width), 0.5)), true), FATHOM_ROLE_WEIGHT);
  const uint32_t x = s.add(output(F32, {t, width}), FATHOM_ROLE_OUTPUT);
  fathom_rms_norm_attrs attrs{};
  attrs.eps = 1e-6f;
  return {FATHOM_OP_RMS_NORM, {h, w}, {x}, attrs_bytes(attrs)};
}

// add(a, b) -> h; rms_norm(h, w) -> x: a residual add and the norm after it. h is a segment
// output (the residual stream, read by later segments) or internal; `a_dtype` other than f32 is
// a look-alike the GPU backends leave unfused.
SegmentCase add_rms_norm(Draw& d, int64_t t, int64_t width, bool h_is_output, uint32_t a_dtype = F32) {
  SegmentCase c;
  SegmentCall& s = c.call;
  const size_t n = static_cast<size_t>(t * width);
  const uint32_t a = s.add(tensor(a_dtype, {t, width}, d.as(a_dtype, d.normal(n))), FATHOM_ROLE_INPUT);
  const uint32_t b = s.add(tensor(F32, {t, width}, d.as(F32, d.normal(n))), FATHOM_ROLE_INPUT);
  const uint32_t h = s.add(output(F32, {t, width}), h_is_output ? FATHOM_ROLE_OUTPUT : FATHOM_ROLE_INTERNAL);
  s.nodes = {{FATHOM_OP_ADD, {a, b}, {h}, {}}, residual_norm(s, d, h, t, width)};
  c.name = "add_rms_norm_T" + std::to_string(t) + "_D" + std::to_string(width) + (h_is_output ? "_sum_output" : "") +
           (a_dtype == BF16 ? "_bf16_operand" : "");
  c.tolerance = tolerance_for(F32, true);
  return c;
}

// matmul(x, W) -> y; add(h, y) -> h' (or add(y, h)); rms_norm(h', w) -> x': an attention block's
// output projection or an MLP's down projection, the residual add and the next norm. h' is a
// segment output (the residual stream). `y_is_output`: y is read outside too, a look-alike the
// GPU backends leave unfused.
SegmentCase matmul_add_rms_norm(Draw& d, int64_t t, int64_t k, int64_t n, uint32_t wdt, bool y_first, bool y_is_output = false) {
  SegmentCase c;
  SegmentCall& s = c.call;
  const uint32_t x = s.add(tensor(F32, {t, k}, d.as(F32, d.normal(static_cast<size_t>(t * k)))), FATHOM_ROLE_INPUT);
  const uint32_t h = s.add(tensor(F32, {t, n}, d.as(F32, d.normal(static_cast<size_t>(t * n), 2.0))), FATHOM_ROLE_INPUT);
  std::vector<uint32_t> mm_in{x};
  for (uint32_t w : add_weight(s, d, wdt, n, k)) mm_in.push_back(w);
  const uint32_t y = s.add(output(F32, {t, n}), y_is_output ? FATHOM_ROLE_OUTPUT : FATHOM_ROLE_INTERNAL);
  const uint32_t h2 = s.add(output(F32, {t, n}), FATHOM_ROLE_OUTPUT);
  s.nodes = {{FATHOM_OP_MATMUL, mm_in, {y}, {}},
             {FATHOM_OP_ADD, y_first ? std::vector<uint32_t>{y, h} : std::vector<uint32_t>{h, y}, {h2}, {}},
             residual_norm(s, d, h2, t, n)};
  const char* wname = wdt == F8 ? "fp8block" : wdt == BF16 ? "bf16" : "f32";
  c.name = std::string("matmul_add_rms_norm_") + wname + "_T" + std::to_string(t) + "_K" + std::to_string(k) + "_N" +
           std::to_string(n) + (y_first ? "_product_first" : "") + (y_is_output ? "_product_also_output" : "");
  // One or two rows are exact on the GPU backends' gemv kernel (f32 activations).
  c.tolerance = wdt == F8 ? 4 * tolerance_for(F32, true) : tolerance_for(wdt, true);
  return c;
}

// YaRN attributes as DeepSeek's configs give them, for `head_dim` elements per head of which the
// last `rope_dim` rotate.
fathom_rope_attrs yarn(int64_t head_dim, int64_t rope_dim) {
  fathom_rope_attrs a{};
  a.head_dim = static_cast<int32_t>(head_dim);
  a.rope_offset = static_cast<int32_t>(head_dim - rope_dim);
  a.rope_dim = static_cast<int32_t>(rope_dim);
  a.theta = 10000.f;
  a.yarn_factor = 40.f;
  a.original_max_positions = 4096;
  a.beta_fast = 32.f;
  a.beta_slow = 1.f;
  a.amplitude = 1.f;
  return a;
}

// slice(kv, begin, len) -> t; rms_norm(t) or rope_yarn(t) -> y: MLA's kv_a output split into the
// latent (normalised) and the shared rope key (rotated). `t_read_twice`: t also feeds an add,
// a look-alike the GPU backends leave unfused.
SegmentCase sliced(Draw& d, bool rope, int64_t t, int64_t width, int64_t begin, int64_t len, bool t_read_twice = false) {
  SegmentCase c;
  SegmentCall& s = c.call;
  const uint32_t kv = s.add(tensor(F32, {t, width}, d.as(F32, d.normal(static_cast<size_t>(t * width)))), FATHOM_ROLE_INPUT);
  const uint32_t part = s.add(output(F32, {t, len}), FATHOM_ROLE_INTERNAL);
  const uint32_t y = s.add(output(F32, {t, len}), FATHOM_ROLE_OUTPUT);
  s.nodes.push_back({FATHOM_OP_SLICE, {kv}, {part}, attrs_bytes(fathom_slice_attrs{begin, len})});
  if (rope) {
    std::vector<int32_t> pos(static_cast<size_t>(t));
    for (int64_t i = 0; i < t; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(3 + 37 * i);
    const uint32_t positions = s.add(tensor(FATHOM_DTYPE_I32, {t}, d.ints(pos)), FATHOM_ROLE_INPUT);
    s.nodes.push_back({FATHOM_OP_ROPE_YARN, {part, positions}, {y}, attrs_bytes(yarn(len, len))});
  } else {
    const uint32_t w = s.add(tensor(BF16, {len}, d.as(BF16, d.normal(static_cast<size_t>(len), 0.5)), true), FATHOM_ROLE_WEIGHT);
    fathom_rms_norm_attrs a{};
    a.eps = 1e-6f;
    s.nodes.push_back({FATHOM_OP_RMS_NORM, {part, w}, {y}, attrs_bytes(a)});
  }
  if (t_read_twice) {
    const uint32_t doubled = s.add(output(F32, {t, len}), FATHOM_ROLE_OUTPUT);
    s.nodes.push_back({FATHOM_OP_ADD, {part, part}, {doubled}, {}});
  }
  c.name = std::string("slice_then_") + (rope ? "rope" : "rms_norm") + "_T" + std::to_string(t) + "_W" + std::to_string(width) +
           "_from" + std::to_string(begin) + "_len" + std::to_string(len) + (t_read_twice ? "_slice_read_twice" : "");
  c.tolerance = tolerance_for(F32, true);
  return c;
}

// add(y, s) -> f; add(h, f) (or add(f, h)) -> h'; rms_norm(h') -> x: the MoE block's output, its
// residual add and the next norm. `f_is_output`: f is read outside (a look-alike).
SegmentCase add_add_rms_norm(Draw& d, int64_t t, int64_t width, bool f_first, bool f_is_output = false) {
  SegmentCase c;
  SegmentCall& s = c.call;
  const size_t n = static_cast<size_t>(t * width);
  const uint32_t y = s.add(tensor(F32, {t, width}, d.as(F32, d.normal(n))), FATHOM_ROLE_INPUT);
  const uint32_t sh = s.add(tensor(F32, {t, width}, d.as(F32, d.normal(n))), FATHOM_ROLE_INPUT);
  const uint32_t h = s.add(tensor(F32, {t, width}, d.as(F32, d.normal(n, 3.0))), FATHOM_ROLE_INPUT);
  const uint32_t f = s.add(output(F32, {t, width}), f_is_output ? FATHOM_ROLE_OUTPUT : FATHOM_ROLE_INTERNAL);
  const uint32_t h2 = s.add(output(F32, {t, width}), FATHOM_ROLE_OUTPUT);
  s.nodes = {{FATHOM_OP_ADD, {y, sh}, {f}, {}},
             {FATHOM_OP_ADD, f_first ? std::vector<uint32_t>{f, h} : std::vector<uint32_t>{h, f}, {h2}, {}},
             residual_norm(s, d, h2, t, width)};
  c.name = "add_add_rms_norm_T" + std::to_string(t) + "_D" + std::to_string(width) + (f_first ? "_inner_sum_first" : "") +
           (f_is_output ? "_inner_sum_output" : "");
  c.tolerance = tolerance_for(F32, true);
  return c;
}

// matmul(x, W_a) -> a; matmul(x2, W_b) -> b with x2 = x (MLA's first two products) or, as a
// look-alike, another input.
SegmentCase two_matmuls(Draw& d, int64_t t, int64_t k, int64_t n_a, int64_t n_b, uint32_t wdt, bool same_x = true) {
  SegmentCase c;
  SegmentCall& s = c.call;
  const uint32_t x = s.add(tensor(F32, {t, k}, d.as(F32, d.normal(static_cast<size_t>(t * k)))), FATHOM_ROLE_INPUT);
  const uint32_t x2 =
      same_x ? x : s.add(tensor(F32, {t, k}, d.as(F32, d.normal(static_cast<size_t>(t * k)))), FATHOM_ROLE_INPUT);
  std::vector<uint32_t> a_in{x}, b_in{x2};
  for (uint32_t w : add_weight(s, d, wdt, n_a, k)) a_in.push_back(w);
  for (uint32_t w : add_weight(s, d, wdt, n_b, k)) b_in.push_back(w);
  const uint32_t a = s.add(output(F32, {t, n_a}), FATHOM_ROLE_OUTPUT);
  const uint32_t b = s.add(output(F32, {t, n_b}), FATHOM_ROLE_OUTPUT);
  s.nodes = {{FATHOM_OP_MATMUL, a_in, {a}, {}}, {FATHOM_OP_MATMUL, b_in, {b}, {}}};
  const char* wname = wdt == F8 ? "fp8block" : wdt == BF16 ? "bf16" : "f32";
  c.name = std::string("two_matmuls_") + wname + "_T" + std::to_string(t) + "_K" + std::to_string(k) + "_N" +
           std::to_string(n_a) + "_" + std::to_string(n_b) + (same_x ? "" : "_other_x");
  c.tolerance = wdt == F8 ? kFp8QuantisedActivationTolerance : tolerance_for(wdt, true);
  return c;
}

// rope(q_raw) -> q; slice(kva) -> l; rms_norm(l) -> latent; slice(kva) -> k; rope(k) -> k_pe;
// mla_attention(q, latent, k_pe, ...) -> o: MLA from its projections' outputs, as the DeepSeek
// graph builder emits it, over a cache holding a random history. Tokens (position, slot): one
// decode token; four of three sequences, two of them consecutive in one sequence (the second
// attends to the first's row, written in the same run); or a prefill chunk of 20 next to two
// decode tokens. `latent_is_output`: the normalised latent is also read outside (a look-alike).
SegmentCase mla_from_projections(Draw& d, int64_t t, uint32_t kvb_dtype, bool absorbed, bool latent_is_output = false) {
  const int64_t h = 3, dn = 16, dr = 8, dv = 12, cr = 144, slots = 3, len = 40;
  std::vector<int32_t> pos, slot;
  if (t == 1) {
    pos = {17}, slot = {1};
  } else if (t == 4) {
    pos = {5, 2, 0, 6}, slot = {0, 1, 2, 0};
  } else {
    for (int32_t i = 0; i < t - 2; ++i) pos.push_back(7 + i), slot.push_back(2);
    pos.push_back(30), slot.push_back(0);
    pos.push_back(0), slot.push_back(1);
  }
  SegmentCase c;
  SegmentCall& s = c.call;
  const uint32_t q_raw = s.add(tensor(F32, {t, h * (dn + dr)}, d.as(F32, d.normal(static_cast<size_t>(t * h * (dn + dr))))),
                               FATHOM_ROLE_INPUT);
  const uint32_t kva = s.add(tensor(F32, {t, cr + dr}, d.as(F32, d.normal(static_cast<size_t>(t * (cr + dr)), 2.0))), FATHOM_ROLE_INPUT);
  const uint32_t positions = s.add(tensor(FATHOM_DTYPE_I32, {t}, d.ints(pos)), FATHOM_ROLE_INPUT);
  const uint32_t slot_ids = s.add(tensor(FATHOM_DTYPE_I32, {t}, d.ints(slot)), FATHOM_ROLE_INPUT);
  const uint32_t norm_w = s.add(tensor(BF16, {cr}, d.as(BF16, d.normal(static_cast<size_t>(cr), 0.5)), true), FATHOM_ROLE_WEIGHT);
  std::vector<uint32_t> mla_in;  // q, latent, k_pe, positions, slots, kv_b (+ scales), cache
  const uint32_t q = s.add(output(F32, {t, h * (dn + dr)}), FATHOM_ROLE_INTERNAL);
  const uint32_t l = s.add(output(F32, {t, cr}), FATHOM_ROLE_INTERNAL);
  const uint32_t latent = s.add(output(F32, {t, cr}), latent_is_output ? FATHOM_ROLE_OUTPUT : FATHOM_ROLE_INTERNAL);
  const uint32_t k = s.add(output(F32, {t, dr}), FATHOM_ROLE_INTERNAL);
  const uint32_t k_pe = s.add(output(F32, {t, dr}), FATHOM_ROLE_INTERNAL);
  mla_in = {q, latent, k_pe, positions, slot_ids};
  for (uint32_t w : add_weight(s, d, kvb_dtype, h * (dn + dv), cr)) mla_in.push_back(w);
  mla_in.push_back(s.add(tensor(F32, {slots, len, cr + dr}, d.as(F32, d.normal(static_cast<size_t>(slots * len * (cr + dr))))),
                         FATHOM_ROLE_INPUT));
  const uint32_t o = s.add(output(F32, {t, h * dv}), FATHOM_ROLE_OUTPUT);
  fathom_rms_norm_attrs norm{};
  norm.eps = 1e-6f;
  s.nodes = {{FATHOM_OP_ROPE_YARN, {q_raw, positions}, {q}, attrs_bytes(yarn(dn + dr, dr))},
             {FATHOM_OP_SLICE, {kva}, {l}, attrs_bytes(fathom_slice_attrs{0, cr})},
             {FATHOM_OP_RMS_NORM, {l, norm_w}, {latent}, attrs_bytes(norm)},
             {FATHOM_OP_SLICE, {kva}, {k}, attrs_bytes(fathom_slice_attrs{cr, dr})},
             {FATHOM_OP_ROPE_YARN, {k, positions}, {k_pe}, attrs_bytes(yarn(dr, dr))},
             {FATHOM_OP_MLA_ATTENTION, mla_in, {o},
              attrs_bytes(fathom_mla_attrs{static_cast<int32_t>(h), static_cast<int32_t>(dn), static_cast<int32_t>(dr),
                                           static_cast<int32_t>(dv), static_cast<int32_t>(cr), absorbed ? 1 : 0, 0.19f, 0})}};
  const char* wname = kvb_dtype == F8 ? "fp8block" : "bf16";
  c.name = std::string("mla_from_projections_") + (absorbed ? "absorbed" : "naive") + "_kvb_" + wname + "_T" +
           std::to_string(t) + (latent_is_output ? "_latent_also_output" : "");
  // As the op's own MLA cases: four chained f32 reductions over FP8 weights with random scales.
  c.tolerance = kvb_dtype == BF16 ? tolerance_for(BF16, true) : 4 * tolerance_for(F32, true);
  return c;
}

// moe_route(x, gate[, bias]) -> (ids, weights); moe_experts(x, ids, weights, ...) -> y: a MoE
// layer's router and routed experts, V3's router (sigmoid, bias, 4 groups keep 2, top-3) or
// V2-Lite's (softmax, greedy top-6). `ids_are_output`: the chosen ids are read outside too (a
// look-alike). Router logits are spread wide (x and gate ~ N(0, 1)), so that no two experts
// tie closely enough for rounding to pick differently.
//
// Appends the two nodes reading x [t][hidden] to s; returns y.
uint32_t add_route_and_experts(SegmentCall& s, Draw& d, uint32_t x, int64_t t, int64_t hidden, int64_t inter, bool v3, uint32_t wdt,
                               uint32_t ids_role, uint32_t y_role) {
  const int64_t e = v3 ? 16 : 12, k = v3 ? 3 : 6;
  std::vector<uint32_t> route_in{x, s.add(tensor(BF16, {e, hidden}, d.as(BF16, d.normal(static_cast<size_t>(e * hidden))), true),
                                          FATHOM_ROLE_WEIGHT)};
  if (v3) route_in.push_back(s.add(tensor(F32, {e}, d.as(F32, d.normal(static_cast<size_t>(e), 0.5)), true), FATHOM_ROLE_WEIGHT));
  const uint32_t ids = s.add(output(FATHOM_DTYPE_I32, {t, k}), ids_role);
  const uint32_t weights = s.add(output(F32, {t, k}), FATHOM_ROLE_INTERNAL);
  std::vector<uint32_t> experts_in{x, ids, weights};
  for (int64_t i = 0; i < e; ++i) {
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{inter, hidden}, {inter, hidden}, {hidden, inter}}) {
      for (uint32_t w : add_weight(s, d, wdt, rows, cols)) experts_in.push_back(w);
    }
  }
  const uint32_t y = s.add(output(F32, {t, hidden}), y_role);
  const fathom_moe_route_attrs route = v3 ? fathom_moe_route_attrs{16, 3, 4, 2, FATHOM_SCORING_SIGMOID, FATHOM_TOPK_NOAUX_TC, 1, 1, 2.5f, 0}
                                          : fathom_moe_route_attrs{12, 6, 1, 1, FATHOM_SCORING_SOFTMAX, FATHOM_TOPK_GREEDY, 0, 0, 1.f, 0};
  s.nodes.push_back({FATHOM_OP_MOE_ROUTE, route_in, {ids, weights}, attrs_bytes(route)});
  s.nodes.push_back({FATHOM_OP_MOE_EXPERTS, experts_in, {y},
                     attrs_bytes(fathom_moe_experts_attrs{static_cast<int32_t>(e), static_cast<int32_t>(k),
                                                          static_cast<int32_t>(hidden), static_cast<int32_t>(inter)})});
  return y;
}

SegmentCase route_and_experts(Draw& d, int64_t t, bool v3, uint32_t wdt, bool ids_are_output = false) {
  const int64_t hidden = 96;
  SegmentCase c;
  SegmentCall& s = c.call;
  const uint32_t x = s.add(tensor(F32, {t, hidden}, d.as(F32, d.normal(static_cast<size_t>(t * hidden)))), FATHOM_ROLE_INPUT);
  add_route_and_experts(s, d, x, t, hidden, 40, v3, wdt, ids_are_output ? FATHOM_ROLE_OUTPUT : FATHOM_ROLE_INTERNAL, FATHOM_ROLE_OUTPUT);
  const char* wname = wdt == F8 ? "fp8block" : "bf16";
  c.name = std::string("route_and_experts_") + (v3 ? "v3" : "v2lite") + "_" + wname + "_T" + std::to_string(t) +
           (ids_are_output ? "_ids_also_output" : "");
  c.tolerance = wdt == F8 ? 4 * tolerance_for(F32, true) : tolerance_for(BF16, true);
  return c;
}

// A MoE layer from its router to the next norm, as the DeepSeek graph builder emits it: the
// router and routed experts (above) and the shared experts' MLP of the same x, then
// add(routed, shared) -> f; add(h, f) -> h'; rms_norm(h') -> x'. The shared intermediate is
// `shared_slices` routed experts wide (V3: 1, V2-Lite: 2; 1.5 is a shape the GPU backends do not
// fold in); the FP8 shapes put the slices' edges inside 128-blocks of the scales.
// `routed_is_output`: the routed experts' output is read outside too (a look-alike).
SegmentCase moe_block(Draw& d, int64_t t, bool v3, uint32_t wdt, double shared_slices, bool routed_is_output = false) {
  const int64_t hidden = wdt == F8 ? 160 : 96, inter = wdt == F8 ? 136 : 40;
  const int64_t shared_inter = static_cast<int64_t>(shared_slices * static_cast<double>(inter));
  SegmentCase c;
  SegmentCall& s = c.call;
  const size_t n = static_cast<size_t>(t * hidden);
  const uint32_t x = s.add(tensor(F32, {t, hidden}, d.as(F32, d.normal(n))), FATHOM_ROLE_INPUT);
  const uint32_t h = s.add(tensor(F32, {t, hidden}, d.as(F32, d.normal(n, 3.0))), FATHOM_ROLE_INPUT);
  const uint32_t routed = add_route_and_experts(s, d, x, t, hidden, inter, v3, wdt, FATHOM_ROLE_INTERNAL,
                                                routed_is_output ? FATHOM_ROLE_OUTPUT : FATHOM_ROLE_INTERNAL);
  std::vector<uint32_t> gate_in{x}, up_in{x};
  for (uint32_t w : add_weight(s, d, wdt, shared_inter, hidden)) gate_in.push_back(w);
  for (uint32_t w : add_weight(s, d, wdt, shared_inter, hidden)) up_in.push_back(w);
  const uint32_t g = s.add(output(F32, {t, shared_inter}), FATHOM_ROLE_INTERNAL);
  const uint32_t u = s.add(output(F32, {t, shared_inter}), FATHOM_ROLE_INTERNAL);
  const uint32_t act = s.add(output(F32, {t, shared_inter}), FATHOM_ROLE_INTERNAL);
  std::vector<uint32_t> down_in{act};
  for (uint32_t w : add_weight(s, d, wdt, hidden, shared_inter)) down_in.push_back(w);
  const uint32_t shared = s.add(output(F32, {t, hidden}), FATHOM_ROLE_INTERNAL);
  const uint32_t f = s.add(output(F32, {t, hidden}), FATHOM_ROLE_INTERNAL);
  const uint32_t h2 = s.add(output(F32, {t, hidden}), FATHOM_ROLE_OUTPUT);
  const uint32_t norm_w = s.add(tensor(BF16, {hidden}, d.as(BF16, d.normal(static_cast<size_t>(hidden), 0.5)), true), FATHOM_ROLE_WEIGHT);
  const uint32_t x2 = s.add(output(F32, {t, hidden}), FATHOM_ROLE_OUTPUT);
  fathom_rms_norm_attrs norm{};
  norm.eps = 1e-6f;
  s.nodes.push_back({FATHOM_OP_MATMUL, gate_in, {g}, {}});
  s.nodes.push_back({FATHOM_OP_MATMUL, up_in, {u}, {}});
  s.nodes.push_back({FATHOM_OP_SILU_MUL, {g, u}, {act}, {}});
  s.nodes.push_back({FATHOM_OP_MATMUL, down_in, {shared}, {}});
  s.nodes.push_back({FATHOM_OP_ADD, {routed, shared}, {f}, {}});
  s.nodes.push_back({FATHOM_OP_ADD, {h, f}, {h2}, {}});
  s.nodes.push_back({FATHOM_OP_RMS_NORM, {h2, norm_w}, {x2}, attrs_bytes(norm)});
  const char* wname = wdt == F8 ? "fp8block" : "bf16";
  c.name = std::string("moe_block_") + (v3 ? "v3" : "v2lite") + "_" + wname + "_T" + std::to_string(t) + "_shared" +
           std::to_string(shared_inter) + "_of" + std::to_string(inter) + (routed_is_output ? "_routed_also_output" : "");
  c.tolerance = wdt == F8 ? 4 * tolerance_for(F32, true) : tolerance_for(BF16, true);
  return c;
}

uint64_t seed() { return case_seed(); }

const std::vector<SegmentCase>& cases() {
  static const std::vector<SegmentCase> all = [] {
    Draw d{std::mt19937_64(seed())};
    std::vector<SegmentCase> v;
    // One and two rows (the GPU decode kernel), five (the staging kernel), twenty (past the
    // gemv limit: the nodes' own ops); K not a multiple of 8 once.
    for (int64_t t : {1, 2, 5, 20}) v.push_back(swiglu(d, t, 300, 100, BF16));
    v.push_back(swiglu(d, 1, 203, 37, F32));
    for (int64_t t : {1, 20}) v.push_back(swiglu(d, t, 384, 200, F8));
    v.push_back(swiglu(d, 1, 300, 100, BF16, true));
    for (int64_t t : {1, 7, 40}) v.push_back(add_rms_norm(d, t, 700, t != 7));
    v.push_back(add_rms_norm(d, 3, 300, true, BF16));
    v.push_back(add_add_rms_norm(d, 1, 700, false));
    v.push_back(add_add_rms_norm(d, 5, 300, true));
    v.push_back(add_add_rms_norm(d, 2, 300, false, true));
    // V2-Lite's kv_a rows: 512 latent columns, then 64 rope-key columns.
    for (int64_t t : {1, 6}) {
      v.push_back(sliced(d, false, t, 576, 0, 512));
      v.push_back(sliced(d, true, t, 576, 512, 64));
    }
    // One and two rows (one launch for both, the first matrix's last rows and the second's first
    // in one block of four), five (the nodes' own ops), a different x (not fused).
    for (int64_t t : {1, 2, 5}) v.push_back(two_matmuls(d, t, 300, 101, 38, BF16));
    v.push_back(two_matmuls(d, 1, 384, 200, 72, F8));
    v.push_back(two_matmuls(d, 1, 300, 101, 38, BF16, false));
    v.push_back(sliced(d, false, 2, 300, 40, 200, true));
    v.push_back(sliced(d, true, 2, 300, 100, 32, true));
    // MLA with its inputs' last steps (one decode token, a batch, a prefill chunk with decode
    // tokens), and a look-alike whose latent is read outside.
    v.push_back(mla_from_projections(d, 1, BF16, true));
    v.push_back(mla_from_projections(d, 4, BF16, false));
    v.push_back(mla_from_projections(d, 22, F8, true));
    v.push_back(mla_from_projections(d, 4, BF16, true, true));
    // A router and its experts: one token (the selection and dispatch by the last block of the
    // logits' launch), three (a selection-and-dispatch kernel at both warp widths), nine (past
    // it: the two ops as they are), and a look-alike.
    for (int64_t t : {1, 3, 9}) v.push_back(route_and_experts(d, t, true, F8));
    v.push_back(route_and_experts(d, 3, false, BF16));
    v.push_back(route_and_experts(d, 3, false, BF16, true));
    // A MoE layer to the next norm: one and two tokens (shared experts folded in, one shared
    // slice or two), three (the fused runs as they are), a shared width the GPU backends do not
    // fold, and a look-alike.
    for (int64_t t : {1, 2}) v.push_back(moe_block(d, t, true, F8, 1));
    v.push_back(moe_block(d, 1, false, F8, 2));
    for (int64_t t : {1, 2, 3}) v.push_back(moe_block(d, t, false, BF16, 2));
    v.push_back(moe_block(d, 1, false, BF16, 1.5));
    v.push_back(moe_block(d, 1, true, BF16, 1, true));
    // A product, the residual add and the next norm: one and two rows (one gemv launch whose
    // last block normalises; a last block of two rows of four; K short of a vector, and short
    // of a warp's chunk, so that most warps have no chunk), five (the nodes' ops), a look-alike.
    v.push_back(matmul_add_rms_norm(d, 1, 384, 202, F8, false));
    v.push_back(matmul_add_rms_norm(d, 2, 384, 202, F8, true));
    v.push_back(matmul_add_rms_norm(d, 1, 300, 130, BF16, false));
    v.push_back(matmul_add_rms_norm(d, 2, 72, 64, BF16, true));
    v.push_back(matmul_add_rms_norm(d, 5, 300, 130, BF16, false));
    v.push_back(matmul_add_rms_norm(d, 1, 300, 130, BF16, false, true));
    return v;
  }();
  return all;
}

class SegmentConformance : public ::testing::TestWithParam<std::tuple<std::string, size_t>> {};

TEST_P(SegmentConformance, MatchesReference) {
  const auto& [backend_name, index] = GetParam();
  const SegmentCase& c = cases().at(index);
  std::shared_ptr<BackendInstance> backend;
  try {
    backend = built_plugins().backend(backend_name);
  } catch (const Error& e) {
    GTEST_SKIP() << e.what();
  }
  SegmentCall expected = c.call, actual = c.call;
  run_segment(reference_backend(), expected);
  try {
    // Both runs checked: the first (eager, or a graph's capture) and the second (a replay).
    run_segment(backend, actual, 2, [&](int run) {
      for (size_t i = 0; i < c.call.tensors.size(); ++i) {
        if (c.call.roles[i] != FATHOM_ROLE_OUTPUT) continue;
        EXPECT_TRUE(close_to_reference(actual.tensors[i], expected.tensors[i], c.tolerance))
            << c.name << " on " << backend_name << ", tensor " << i << ", run " << run + 1 << " of 2 (seed " << seed() << ")";
      }
    });
  } catch (const Error& e) {
    if (e.code() == ErrorCode::unsupported) GTEST_SKIP() << backend_name << " does not support it: " << e.what();
    throw;
  }
}

std::vector<std::tuple<std::string, size_t>> params() { return backend_case_params(cases().size()); }

std::string param_name(const ::testing::TestParamInfo<std::tuple<std::string, size_t>>& info) {
  return backend_case_name(std::get<0>(info.param), cases().at(std::get<1>(info.param)).name);
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, SegmentConformance, ::testing::ValuesIn(params()), param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SegmentConformance);

}  // namespace
}  // namespace fathom::test
