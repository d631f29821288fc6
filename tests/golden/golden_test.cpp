// Golden model tests: the tiny checkpoints of tests/fixtures (written by
// tools/reference/make_fixtures.py with seeded random weights) must give the logits Hugging Face
// transformers computed for them in fp32: max |Δlogit| ≤ 1e-4 × max |logit| and the same argmax
// at every position — by prefill, by decode through the KV cache, and for the MTP head.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"
#include "fathom/engine/loaded_model.h"

namespace fathom::engine {
namespace {

constexpr double kTolerance = 1e-4;

struct Sequence {
  std::vector<int32_t> ids;
  std::vector<std::vector<float>> logits, mtp_logits;
};

std::vector<Sequence> load_golden(const std::string& fixture) {
  std::ifstream in(std::string(FATHOM_FIXTURES_DIR) + "/" + fixture + "/golden.json");
  if (!in) throw std::runtime_error("missing golden.json for " + fixture);
  nlohmann::json j = nlohmann::json::parse(in);
  std::vector<Sequence> out;
  for (const auto& s : j["sequences"]) {
    Sequence seq;
    seq.ids = s["ids"].get<std::vector<int32_t>>();
    seq.logits = s["logits"].get<std::vector<std::vector<float>>>();
    if (s.contains("mtp_logits")) seq.mtp_logits = s["mtp_logits"].get<std::vector<std::vector<float>>>();
    out.push_back(std::move(seq));
  }
  return out;
}

::testing::AssertionResult matches(const std::vector<float>& got, const std::vector<std::vector<float>>& want,
                                   double tolerance = kTolerance, bool same_argmax = true) {
  const size_t vocab = want.at(0).size();
  if (got.size() != want.size() * vocab) return ::testing::AssertionFailure() << "shape differs";
  double max_ref = 0, max_diff = 0;
  for (const auto& row : want) {
    for (float v : row) max_ref = std::max(max_ref, std::fabs(static_cast<double>(v)));
  }
  size_t argmax_mismatch = 0;
  for (size_t t = 0; t < want.size(); ++t) {
    size_t best_got = 0, best_want = 0;
    for (size_t v = 0; v < vocab; ++v) {
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(got[t * vocab + v]) - want[t][v]));
      if (got[t * vocab + v] > got[t * vocab + best_got]) best_got = v;
      if (want[t][v] > want[t][best_want]) best_want = v;
    }
    argmax_mismatch += best_got != best_want;
  }
  if (max_diff <= tolerance * max_ref && (argmax_mismatch == 0 || !same_argmax)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max |Δ| = " << max_diff << " (allowed " << tolerance * max_ref
                                       << "), argmax differs at " << argmax_mismatch << " positions";
}

class Golden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    config_ = default_config();
    config_.runtime.backends = {"reference"};
    config_.runtime.plugin_path = {FATHOM_PLUGIN_DIR};
    host_ = std::make_unique<PluginHost>(config_);
  }
  std::unique_ptr<LoadedModel> load(bool mtp) {
    ModelOptions o;
    o.max_seq_len = 64;
    o.load_mtp = mtp;
    return std::make_unique<LoadedModel>(std::string(FATHOM_FIXTURES_DIR) + "/" + GetParam(), config_, *host_, o);
  }
  Config config_;
  std::unique_ptr<PluginHost> host_;
};

TEST_P(Golden, PrefillMatchesTransformers) {
  auto model = load(false);
  for (const Sequence& s : load_golden(GetParam())) {
    std::vector<int32_t> pos(s.ids.size()), slots(s.ids.size(), 0);
    std::iota(pos.begin(), pos.end(), 0);
    auto r = model->forward({s.ids, pos, slots}, AttentionForm::naive);
    EXPECT_TRUE(matches(r.logits, s.logits)) << GetParam() << ", " << s.ids.size() << " tokens";
  }
}

TEST_P(Golden, DecodeThroughTheCacheMatchesTransformers) {
  auto model = load(false);
  for (const Sequence& s : load_golden(GetParam())) {
    std::vector<float> rows;
    for (size_t t = 0; t < s.ids.size(); ++t) {
      int32_t pos = static_cast<int32_t>(t), slot = 0;
      auto r = model->forward({std::span(s.ids).subspan(t, 1), std::span(&pos, 1), std::span(&slot, 1)},
                              AttentionForm::absorbed);
      rows.insert(rows.end(), r.logits.begin(), r.logits.end());
    }
    EXPECT_TRUE(matches(rows, s.logits)) << GetParam() << ", " << s.ids.size() << " tokens";
  }
}

// Chunked prefill: the first part as one prefill, the rest continuing from the cache.
TEST_P(Golden, ChunkedPrefillMatchesTransformers) {
  auto model = load(false);
  const Sequence s = load_golden(GetParam()).back();
  std::vector<int32_t> pos(s.ids.size()), slots(s.ids.size(), 0);
  std::iota(pos.begin(), pos.end(), 0);
  const size_t split = s.ids.size() / 3;
  auto a = model->forward({std::span(s.ids).first(split), std::span(pos).first(split), std::span(slots).first(split)},
                          AttentionForm::naive);
  auto b = model->forward({std::span(s.ids).subspan(split), std::span(pos).subspan(split), std::span(slots).subspan(split)},
                          AttentionForm::naive);
  a.logits.insert(a.logits.end(), b.logits.begin(), b.logits.end());
  EXPECT_TRUE(matches(a.logits, s.logits));
}

TEST_P(Golden, MtpMatchesTransformersModules) {
  if (load_golden(GetParam()).front().mtp_logits.empty()) GTEST_SKIP() << GetParam() << " has no MTP module";
  auto model = load(true);
  for (const Sequence& s : load_golden(GetParam())) {
    std::vector<int32_t> pos(s.ids.size()), slots(s.ids.size(), 0);
    std::iota(pos.begin(), pos.end(), 0);
    auto main = model->forward({s.ids, pos, slots}, AttentionForm::naive);
    const size_t rows = s.ids.size() - 1, d = static_cast<size_t>(model->spec().hidden_size);
    auto mtp = model->mtp_forward({std::span(s.ids).subspan(1), std::span(pos).first(rows), std::span(slots).first(rows)},
                                  std::span(main.hidden).first(rows * d));
    EXPECT_TRUE(matches(mtp, s.mtp_logits)) << GetParam() << ", " << s.ids.size() << " tokens";
  }
}

// The same model split over two backends (the template takes the element-wise ops): exercises
// segmenting and the copies between backends.
TEST_P(Golden, PrefillSplitOverTwoBackendsMatchesTransformers) {
  config_.runtime.backends = {"template", "reference"};
  host_ = std::make_unique<PluginHost>(config_);
  auto model = load(false);
  EXPECT_GT(model->prefill_placement().backends.size(), 1u);
  const Sequence s = load_golden(GetParam()).front();
  std::vector<int32_t> pos(s.ids.size()), slots(s.ids.size(), 0);
  std::iota(pos.begin(), pos.end(), 0);
  auto r = model->forward({s.ids, pos, slots}, AttentionForm::naive);
  EXPECT_TRUE(matches(r.logits, s.logits));
}

// The same fixtures on the cuda backend alone (`backends = ["cuda"]`). With
// matmul_precision = "f32" every op keeps f32 activations, so the tolerance is the one above.
// Without a usable GPU (or without the plugin in this build) these skip with the plugin's reason.
class GoldenCuda : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // Is the plugin here, and can it run? Ask before configuring it: a [backend.cuda] table for
    // a plugin the build lacks is a configuration error.
    Config probe = default_config();
    probe.runtime.plugin_path = {FATHOM_PLUGIN_DIR};
    PluginHost probe_host(probe);
    try {
      probe_host.backend("cuda");
    } catch (const fathom::Error& e) {
      GTEST_SKIP() << e.what();
    }
    use_precision("f32");
  }
  void use_precision(const std::string& precision) {
    config_ = parse_config("[runtime]\nbackends = [\"cuda\"]\n[backend.cuda]\nmatmul_precision = \"" + precision + "\"\n",
                           "golden-cuda.toml");
    config_.runtime.plugin_path = {FATHOM_PLUGIN_DIR};
    host_ = std::make_unique<PluginHost>(config_);
  }
  std::unique_ptr<LoadedModel> load(bool mtp) {
    ModelOptions o;
    o.max_seq_len = 64;
    o.load_mtp = mtp;
    return std::make_unique<LoadedModel>(std::string(FATHOM_FIXTURES_DIR) + "/" + GetParam(), config_, *host_, o);
  }
  Config config_;
  std::unique_ptr<PluginHost> host_;
};

TEST_P(GoldenCuda, PrefillMatchesTransformers) {
  auto model = load(false);
  for (const Sequence& s : load_golden(GetParam())) {
    std::vector<int32_t> pos(s.ids.size()), slots(s.ids.size(), 0);
    std::iota(pos.begin(), pos.end(), 0);
    auto r = model->forward({s.ids, pos, slots}, AttentionForm::naive);
    EXPECT_TRUE(matches(r.logits, s.logits)) << GetParam() << ", " << s.ids.size() << " tokens";
  }
}

TEST_P(GoldenCuda, DecodeThroughTheCacheMatchesTransformers) {
  auto model = load(false);
  for (const Sequence& s : load_golden(GetParam())) {
    std::vector<float> rows;
    for (size_t t = 0; t < s.ids.size(); ++t) {
      int32_t pos = static_cast<int32_t>(t), slot = 0;
      auto r = model->forward({std::span(s.ids).subspan(t, 1), std::span(&pos, 1), std::span(&slot, 1)},
                              AttentionForm::absorbed);
      rows.insert(rows.end(), r.logits.begin(), r.logits.end());
    }
    EXPECT_TRUE(matches(rows, s.logits)) << GetParam() << ", " << s.ids.size() << " tokens";
  }
}

TEST_P(GoldenCuda, ChunkedPrefillMatchesTransformers) {
  auto model = load(false);
  const Sequence s = load_golden(GetParam()).back();
  std::vector<int32_t> pos(s.ids.size()), slots(s.ids.size(), 0);
  std::iota(pos.begin(), pos.end(), 0);
  const size_t split = s.ids.size() / 3;
  auto a = model->forward({std::span(s.ids).first(split), std::span(pos).first(split), std::span(slots).first(split)},
                          AttentionForm::naive);
  auto b = model->forward({std::span(s.ids).subspan(split), std::span(pos).subspan(split), std::span(slots).subspan(split)},
                          AttentionForm::naive);
  a.logits.insert(a.logits.end(), b.logits.begin(), b.logits.end());
  EXPECT_TRUE(matches(a.logits, s.logits));
}

TEST_P(GoldenCuda, MtpMatchesTransformersModules) {
  if (load_golden(GetParam()).front().mtp_logits.empty()) GTEST_SKIP() << GetParam() << " has no MTP module";
  auto model = load(true);
  for (const Sequence& s : load_golden(GetParam())) {
    std::vector<int32_t> pos(s.ids.size()), slots(s.ids.size(), 0);
    std::iota(pos.begin(), pos.end(), 0);
    auto main = model->forward({s.ids, pos, slots}, AttentionForm::naive);
    const size_t rows = s.ids.size() - 1, d = static_cast<size_t>(model->spec().hidden_size);
    auto mtp = model->mtp_forward({std::span(s.ids).subspan(1), std::span(pos).first(rows), std::span(slots).first(rows)},
                                  std::span(main.hidden).first(rows * d));
    EXPECT_TRUE(matches(mtp, s.mtp_logits)) << GetParam() << ", " << s.ids.size() << " tokens";
  }
}

// The default precision: prompts longer than gemv_max_tokens (16) run their products on tensor
// cores (bf16 weights with bf16-rounded activations through cuBLAS; FP8 weights with activations
// quantised per 1x128 block through cuBLASLt). That is not transformers' fp32 arithmetic, so the
// bound is loose — it catches wrong layouts and indexing (errors of the logits' own size), not
// rounding — and the argmax may differ where the tiny random models' top logits nearly tie.
TEST_P(GoldenCuda, MixedPrecisionPrefillStaysClose) {
  use_precision("mixed");
  auto model = load(false);
  for (const Sequence& s : load_golden(GetParam())) {
    std::vector<int32_t> pos(s.ids.size()), slots(s.ids.size(), 0);
    std::iota(pos.begin(), pos.end(), 0);
    auto r = model->forward({s.ids, pos, slots}, AttentionForm::naive);
    EXPECT_TRUE(matches(r.logits, s.logits, 0.1, false)) << GetParam() << ", " << s.ids.size() << " tokens";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenCuda,
                         ::testing::Values("deepseek-v3-tiny", "deepseek-v2-lite-tiny", "deepseek-v3-tiny-fp8",
                                           "deepseek-v3-tiny-sharded"),
                         [](const auto& fixture) {
                           std::string s = fixture.param;
                           for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return s;
                         });

INSTANTIATE_TEST_SUITE_P(Fixtures, Golden,
                         ::testing::Values("deepseek-v3-tiny", "deepseek-v2-lite-tiny", "deepseek-v3-tiny-fp8",
                                           "deepseek-v3-tiny-sharded"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return s;
                         });

}  // namespace
}  // namespace fathom::engine
