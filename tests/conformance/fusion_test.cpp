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
  c.tolerance = wdt == F8 ? 0.05 : tolerance_for(wdt, true);
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
    run_segment(backend, actual, 2);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::unsupported) GTEST_SKIP() << backend_name << " does not support it: " << e.what();
    throw;
  }
  for (size_t i = 0; i < c.call.tensors.size(); ++i) {
    if (c.call.roles[i] != FATHOM_ROLE_OUTPUT) continue;
    EXPECT_TRUE(close_to_reference(actual.tensors[i], expected.tensors[i], c.tolerance))
        << c.name << " on " << backend_name << ", tensor " << i << " (seed " << seed() << ")";
  }
}

std::vector<std::tuple<std::string, size_t>> params() {
  std::vector<std::tuple<std::string, size_t>> p;
  for (const auto& name : other_backend_names()) {
    for (size_t i = 0; i < cases().size(); ++i) p.emplace_back(name, i);
  }
  return p;
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<std::string, size_t>>& info) {
  std::string s = std::get<0>(info.param) + "_" + cases().at(std::get<1>(info.param)).name;
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, SegmentConformance, ::testing::ValuesIn(params()), param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SegmentConformance);

}  // namespace
}  // namespace fathom::test
