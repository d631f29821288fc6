// Op conformance: every case of op_cases.cpp on every backend plugin of the build, compared
// with the reference backend on the same fresh random inputs.
//
// A backend that cannot run here (probe said no) or does not support a case skips it with the
// backend's own reason. Set FATHOM_CONFORMANCE_SEED to replay a failing run.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "fathom/core/dtype.h"
#include "fathom/core/error.h"
#include "gpu_op_cases.h"
#include "op_cases.h"
#include "plugin_fixture.h"

namespace fathom::test {
namespace {

uint64_t suite_seed() {
  static const uint64_t seed = [] {
    if (const char* s = std::getenv("FATHOM_CONFORMANCE_SEED")) return static_cast<uint64_t>(std::strtoull(s, nullptr, 10));
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }();
  return seed;
}

const std::vector<OpCase>& cases() {
  static const std::vector<OpCase> all = [] {
    std::vector<OpCase> v = make_op_cases(suite_seed());
    for (OpCase& c : make_gpu_path_cases(suite_seed())) v.push_back(std::move(c));
    return v;
  }();
  return all;
}

class OpConformance : public ::testing::TestWithParam<std::tuple<std::string, size_t>> {};

TEST_P(OpConformance, MatchesReference) {
  const auto& [backend_name, index] = GetParam();
  const OpCase& c = cases().at(index);
  std::shared_ptr<BackendInstance> backend;
  try {
    backend = built_plugins().backend(backend_name);
  } catch (const Error& e) {
    GTEST_SKIP() << e.what();
  }
  OpSupport support = query(backend, c.call);
  if (support.level == FATHOM_SUPPORT_NO) GTEST_SKIP() << backend_name << " does not support it: " << support.reason;

  OpCall expected = c.call;
  OpCall actual = c.call;
  run_op(reference_backend(), expected);
  run_op(backend, actual);
  for (size_t i = 0; i < expected.outputs.size(); ++i) {
    EXPECT_TRUE(close_to_reference(actual.outputs[i], expected.outputs[i], c.tolerance))
        << c.name << " on " << backend_name << ", output " << i << " (seed " << suite_seed() << ")";
  }
}

std::vector<std::tuple<std::string, size_t>> params() { return backend_case_params(cases().size()); }

std::string param_name(const ::testing::TestParamInfo<std::tuple<std::string, size_t>>& info) {
  return backend_case_name(std::get<0>(info.param), cases().at(std::get<1>(info.param)).name);
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, OpConformance, ::testing::ValuesIn(params()), param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OpConformance);

// The reference backend must support every case: it is the oracle.
TEST(OpConformanceOracle, ReferenceSupportsEveryCase) {
  for (const OpCase& c : cases()) {
    OpSupport s = query(reference_backend(), c.call);
    EXPECT_NE(s.level, FATHOM_SUPPORT_NO) << c.name << ": " << s.reason;
  }
}

}  // namespace
}  // namespace fathom::test
