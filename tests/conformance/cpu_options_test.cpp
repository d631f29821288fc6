// The cpu backend under non-default [backend.cpu] options: every op case again against the
// reference, once per variant. The default run (conformance_test.cpp) takes each kernel path
// only for the shapes that select it; these variants force each path for every shape (GEMV for
// every M, oneDNN/tiles for every M, the portable scalar table, FP8 held as bf16, one thread),
// so a bug in a path the defaults rarely take still shows up here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fathom/core/config.h"
#include "fathom/core/error.h"
#include "fathom/core/plugin_host.h"
#include "fathom/sdk/ggml_blocks.hpp"
#include "fathom/sdk/tensor.hpp"
#include "op_cases.h"
#include "plugin_fixture.h"

namespace fathom::test {
namespace {

struct Variant {
  std::string name;
  std::string options;  // the body of [backend.cpu]
};

std::vector<Variant> variants() {
  std::vector<Variant> v = {
      {"scalar_kernels", "isa = \"scalar\""},
      {"gemv_for_every_m", "gemv_max_rows = 64"},
      {"onednn_for_every_m", "gemv_max_rows = 0"},
      {"fp8_held_as_bf16", "weights = \"bf16\""},
      // oneDNN's bf16 kernels where this CPU has them (AVX-512); the same as the default elsewhere.
      {"bf16_matmuls", "matmul_precision = \"bf16\"\nweights = \"bf16\""},
      // ...for every M: the bf16 kernels read the rows the GEMV reads, in place.
      {"bf16_matmuls_for_every_m", "matmul_precision = \"bf16\"\nweights = \"bf16\"\ngemv_max_rows = 0"},
      // FP8 kept as FP8 under bf16 precision: the vdpbf16ps lookup GEMV at every M where the CPU
      // has AVX512_VBMI and AVX512_BF16 (elsewhere the default paths).
      {"bf16_matmuls_fp8_kept", "matmul_precision = \"bf16\""},
      {"one_thread", "threads = 1"},
      // int8 activations apply to quantised weights only: with the stored float weights nothing
      // changes; GGUF's Q8_0 / Q4_0 weights are quantised ones (see kInt8ActivationTolerance).
      {"int8_precision_stored_weights", "matmul_precision = \"int8\""},
      {"weights_mapped", "weight_memory = \"mapped\""},
  };
  // The vector table the default does not pick, where this CPU can run it.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq")) {
    v.push_back({"avx2_kernels", "isa = \"avx2\""});
    // AVX2's integer kernels (vpmaddubsw), which CPUs without AVX512_VNNI run.
    v.push_back({"avx2_int8_precision_stored_weights", "isa = \"avx2\"\nmatmul_precision = \"int8\""});
  }
  return v;
}

// One host per variant, alive for the whole process (hosts keep a reference to their config).
struct VariantHost {
  Config config;
  std::unique_ptr<PluginHost> host;
};

std::shared_ptr<BackendInstance> cpu_with(const Variant& v) {
  static std::map<std::string, std::unique_ptr<VariantHost>> hosts;
  auto& slot = hosts[v.name];
  if (!slot) {
    slot = std::make_unique<VariantHost>();
    slot->config = parse_config("[runtime]\nbackends = [\"cpu\"]\n\n[backend.cpu]\n" + v.options + "\n", v.name + ".toml");
    slot->config.runtime.plugin_path = {FATHOM_PLUGIN_DIR};
    slot->host = std::make_unique<PluginHost>(slot->config);
  }
  return slot->host->backend("cpu");
}

const std::vector<OpCase>& cases() {
  static const std::vector<OpCase> all = make_op_cases(case_seed());
  return all;
}

// Products over GGUF blocks with matmul_precision = "int8" round x to int8 per group of 32 (the
// exact integer arithmetic is judged in cpu_quantized_weights_test.cpp). A matmul is held to what
// that rounding can do (within_int8_rounding). Through the experts' chain of products (x, then the
// SwiGLU of both, rounded) no such bound is kept; measured over 400 random cases (61 seeds, every
// GGUF layout): 1.2 % of the largest output on average, 3.0 % at most; held to 5 %.
constexpr double kInt8ActivationTolerance = 5e-2;

// |got − ref| of y = x · Wᵀ (W in GGUF blocks) with x rounded to int8 per group of 32: each x moves
// by at most half a step, max |x of its group| / 254, so output (t, n) by at most
// Σ_g max|x_g| / 254 · Σ_{i ∈ g} |W[n][i]|; plus the f32 sums' own rounding (1e-4 of Σ |x · W|).
::testing::AssertionResult within_int8_rounding(const OpCall& call, const OpTensor& got, const OpTensor& ref) {
  const OpTensor& x = call.inputs[0];
  const OpTensor& w = call.inputs[1];
  const int64_t t = x.desc.shape[0], k = x.desc.shape[1], n = w.desc.shape[0];
  std::vector<float> xs(static_cast<size_t>(t * k)), g(static_cast<size_t>(t * n)), r(static_cast<size_t>(t * n));
  std::memcpy(xs.data(), x.data.data(), xs.size() * 4);
  std::memcpy(g.data(), got.data.data(), g.size() * 4);
  std::memcpy(r.data(), ref.data.data(), r.size() * 4);
  const int64_t row_bytes = sdk::ggml_row_bytes(w.desc.layout, k);
  for (int64_t j = 0; j < n; ++j) {
    const std::byte* row = w.data.data() + j * row_bytes;
    for (int64_t m = 0; m < t; ++m) {
      double bound = 0, magnitude = 0;
      for (int64_t g0 = 0; g0 < k; g0 += 32) {
        double amax = 0, weights = 0;
        for (int64_t i = g0; i < g0 + 32; ++i) {
          const double xv = xs[static_cast<size_t>(m * k + i)], wv = sdk::ggml_value(row, w.desc.layout, i);
          amax = std::max(amax, std::fabs(xv));
          weights += std::fabs(wv);
          magnitude += std::fabs(xv * wv);
        }
        bound += amax / 254 * weights;
      }
      const double diff = std::fabs(g[static_cast<size_t>(m * n + j)] - static_cast<double>(r[static_cast<size_t>(m * n + j)]));
      if (!(diff <= bound * (1 + 1e-6) + 1e-4 * magnitude)) {
        return ::testing::AssertionFailure() << "y[" << m << "][" << j << "] = " << g[static_cast<size_t>(m * n + j)]
                                             << ", reference " << r[static_cast<size_t>(m * n + j)] << ": off by " << diff
                                             << ", more than int8 activations allow (" << bound << ")";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

bool has_ggml_weights(const OpCase& c) {
  for (const OpTensor& t : c.call.inputs) {
    if (sdk::is_ggml_layout(t.desc.layout)) return true;
  }
  return false;
}

class CpuOptionVariants : public ::testing::TestWithParam<std::tuple<size_t, size_t>> {};

TEST_P(CpuOptionVariants, MatchesReference) {
  const auto [variant_index, case_index] = GetParam();
  const Variant v = variants().at(variant_index);
  const OpCase& c = cases().at(case_index);
  std::shared_ptr<BackendInstance> cpu;
  try {
    cpu = cpu_with(v);
  } catch (const Error& e) {
    GTEST_SKIP() << "cpu backend not available: " << e.what();
  }
  if (query(cpu, c.call).level == FATHOM_SUPPORT_NO) GTEST_SKIP() << "cpu does not take " << c.name;
  OpCall expected = c.call, actual = c.call;
  run_op(reference_backend(), expected);
  run_op(cpu, actual);
  const bool int8_activations = v.name.find("int8_precision_stored_weights") != std::string::npos && has_ggml_weights(c);
  if (int8_activations && c.call.op == FATHOM_OP_MATMUL) {
    EXPECT_TRUE(within_int8_rounding(c.call, actual.outputs[0], expected.outputs[0]))
        << c.name << " on cpu with " << v.options << " (seed " << case_seed() << ")";
    return;
  }
  const double tolerance = int8_activations ? kInt8ActivationTolerance : c.tolerance;
  for (size_t i = 0; i < expected.outputs.size(); ++i) {
    EXPECT_TRUE(close_to_reference(actual.outputs[i], expected.outputs[i], tolerance))
        << c.name << " on cpu with " << v.options << ", output " << i << " (seed " << case_seed() << ")";
  }
}

std::vector<std::tuple<size_t, size_t>> params() {
  std::vector<std::tuple<size_t, size_t>> p;
  for (size_t v = 0; v < variants().size(); ++v) {
    for (size_t i = 0; i < cases().size(); ++i) p.emplace_back(v, i);
  }
  return p;
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<size_t, size_t>>& info) {
  std::string s = variants().at(std::get<0>(info.param)).name + "_" + cases().at(std::get<1>(info.param)).name;
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(Cpu, CpuOptionVariants, ::testing::ValuesIn(params()), param_name);

// Bad option values are refused at create() with a message naming the key.
TEST(CpuOptions, BadValuesAreRefusedWithTheKey) {
  for (const auto& [options, key] : std::vector<std::pair<std::string, std::string>>{
           {"weights = \"fp4\"", "weights"}, {"threads = -1", "threads"}, {"isa = \"neon\"", "isa"},
           {"gemv_max_rows = 1000", "gemv_max_rows"}, {"matmul_precision = \"fp16\"", "matmul_precision"},
           {"weight_memory = \"swap\"", "weight_memory"}}) {
    try {
      cpu_with({"bad_" + key, options});
      ADD_FAILURE() << options << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace fathom::test
