// The oracle's model kernels against numbers from outside Fathom: the YaRN frequency table and
// router behaviours of docs/reference/deepseek-spec.md (§2.3, §2.8, pitfall 6).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "fathom/core/dtype.h"
#include "op_runner.h"
#include "plugin_fixture.h"

namespace fathom::test {
namespace {

template <typename T>
std::vector<std::byte> raw(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
template <typename T>
std::vector<T> values(const OpTensor& t) {
  std::vector<T> v(t.data.size() / sizeof(T));
  std::memcpy(v.data(), t.data.data(), t.data.size());
  return v;
}
template <typename A>
std::vector<std::byte> attrs(const A& a) {
  return raw(std::vector<A>{a});
}
OpTensor in(uint32_t dt, std::vector<int64_t> shape, std::vector<std::byte> data) {
  return OpTensor{make_desc(dt, std::move(shape)), false, std::move(data)};
}
OpTensor out(uint32_t dt, std::vector<int64_t> shape) { return OpTensor{make_desc(dt, std::move(shape)), false, {}}; }

// Rotating (1, 0) pairs at position 1 turns each pair by exactly inv_freq_i; the spec's table
// (computed in f64 by deepseek-spec-checks.py) gives the expected frequencies for V3's YaRN.
TEST(ReferenceModelKernels, YarnFrequenciesMatchTheSpecTable) {
  const int dim = 64;
  std::vector<float> x(dim);
  for (int i = 0; i < dim; i += 2) x[static_cast<size_t>(i)] = 1.f;
  fathom_rope_attrs a{dim, 0, dim, 10000.f, 40.f, 4096, 32.f, 1.f, 1.f};
  OpCall c{FATHOM_OP_ROPE_YARN,
           {in(FATHOM_DTYPE_F32, {1, dim}, raw(x)), in(FATHOM_DTYPE_I32, {1}, raw(std::vector<int32_t>{1}))},
           {out(FATHOM_DTYPE_F32, {1, dim})},
           attrs(a)};
  run_op(reference_backend(), c);
  auto y = values<float>(c.outputs[0]);
  const std::pair<int, double> table[] = {{0, 1.0},           {10, 5.623413252e-02}, {11, 3.900692657e-02},
                                          {16, 5.5e-03},      {22, 1.778279410e-04}, {23, 3.333803580e-05},
                                          {31, 3.333803580e-06}};
  for (auto [i, inv_freq] : table) {
    double angle = std::atan2(y[static_cast<size_t>(2 * i + 1)], y[static_cast<size_t>(2 * i)]);
    EXPECT_NEAR(angle, inv_freq, inv_freq * 1e-5) << "pair " << i;
  }
}

// Pitfall 6: selection scores with negative biases. Groups {0,1} and {2,3}; group 0 wins. With
// −inf masking experts 0 and 1 are chosen; masking group 1 with 0.0 would wrongly pick 2 and 3.
TEST(ReferenceModelKernels, RouterMasksDroppedGroupsWithMinusInfinity) {
  fathom_moe_route_attrs a{4, 2, 2, 1, FATHOM_SCORING_SIGMOID, FATHOM_TOPK_NOAUX_TC, 1, 1, 2.5f, 0};
  OpCall c{FATHOM_OP_MOE_ROUTE,
           {in(FATHOM_DTYPE_F32, {1, 1}, raw(std::vector<float>{0.f})),  // logits 0 → every score 0.5
            in(FATHOM_DTYPE_F32, {4, 1}, raw(std::vector<float>{1.f, 1.f, 1.f, 1.f})),
            in(FATHOM_DTYPE_F32, {4}, raw(std::vector<float>{-1.0f, -1.2f, -3.f, -3.f}))},
           {out(FATHOM_DTYPE_I32, {1, 2}), out(FATHOM_DTYPE_F32, {1, 2})},
           attrs(a)};
  run_op(reference_backend(), c);
  EXPECT_EQ(values<int32_t>(c.outputs[0]), (std::vector<int32_t>{0, 1}));
  // Weights are the unbiased scores (0.5 each), renormalised (0.5 each), × 2.5.
  EXPECT_EQ(values<float>(c.outputs[1]), (std::vector<float>{1.25f, 1.25f}));
}

// V2-Lite: softmax, plain top-k, no renormalisation, × 1.
TEST(ReferenceModelKernels, SoftmaxGreedyRouterKeepsRawProbabilities) {
  fathom_moe_route_attrs a{3, 2, 1, 1, FATHOM_SCORING_SOFTMAX, FATHOM_TOPK_GREEDY, 0, 0, 1.f, 0};
  // logits = x·gate = [0, ln 2, ln 3] → softmax = [1/6, 2/6, 3/6].
  OpCall c{FATHOM_OP_MOE_ROUTE,
           {in(FATHOM_DTYPE_F32, {1, 1}, raw(std::vector<float>{1.f})),
            in(FATHOM_DTYPE_F32, {3, 1}, raw(std::vector<float>{0.f, std::log(2.f), std::log(3.f)}))},
           {out(FATHOM_DTYPE_I32, {1, 2}), out(FATHOM_DTYPE_F32, {1, 2})},
           attrs(a)};
  run_op(reference_backend(), c);
  EXPECT_EQ(values<int32_t>(c.outputs[0]), (std::vector<int32_t>{2, 1}));
  auto w = values<float>(c.outputs[1]);
  EXPECT_NEAR(w[0], 0.5, 1e-6);
  EXPECT_NEAR(w[1], 1.0 / 3, 1e-6);
}

}  // namespace
}  // namespace fathom::test
