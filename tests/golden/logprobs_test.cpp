// The engine's logprobs (OpenAI's `logprobs`) against transformers: the log-softmax of the
// logits transformers computed for the fixtures, taken here in double from golden.json. The
// chosen token's log-probability and the top alternatives must be transformers', within what the
// logits' own tolerance allows.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "fathom/engine/engine.h"
#include "golden_support.h"

namespace fathom::engine::golden {
namespace {

std::vector<double> log_softmax(const std::vector<float>& logits) {
  const double m = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float x : logits) sum += std::exp(x - m);
  std::vector<double> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - m - std::log(sum);
  return out;
}

// Token ids by transformers' logit, highest first.
std::vector<int32_t> ranked(const std::vector<float>& logits) {
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  return order;
}

// On the reference backend; the same checks run on the GPU simulator and on cuda below.
class GoldenLogprobs : public GoldenTest {
 protected:
  void SetUp() override { use_deployment("[runtime]\nbackends = [\"reference\"]\n"); }
  void expect_token_logprobs_match();
  void expect_prompt_logprobs_match();
};

TEST_P(GoldenLogprobs, EngineLogprobsAreTransformersLogSoftmax) { expect_token_logprobs_match(); }
TEST_P(GoldenLogprobs, PromptLogprobsAreTransformersLogSoftmax) { expect_prompt_logprobs_match(); }

// gpusim32: the cuda plugin's kernels on the host (tests/gpusim), f32 products.
class GoldenLogprobsGpusim : public GoldenLogprobs {
 protected:
  void SetUp() override { use_deployment("[runtime]\nbackends = [\"gpusim32\"]\n[backend.gpusim32]\nmatmul_precision = \"f32\"\n"); }
};

TEST_P(GoldenLogprobsGpusim, EngineLogprobsAreTransformersLogSoftmax) { expect_token_logprobs_match(); }
TEST_P(GoldenLogprobsGpusim, PromptLogprobsAreTransformersLogSoftmax) { expect_prompt_logprobs_match(); }

// cuda, f32 products; skipped with the plugin's reason where there is no GPU.
class GoldenLogprobsCuda : public GoldenLogprobs {
 protected:
  void SetUp() override {
    if (const std::string why = backend_unavailable("cuda"); !why.empty()) GTEST_SKIP() << why;
    use_deployment("[runtime]\nbackends = [\"cuda\"]\n[backend.cuda]\nmatmul_precision = \"f32\"\n");
  }
};

TEST_P(GoldenLogprobsCuda, EngineLogprobsAreTransformersLogSoftmax) { expect_token_logprobs_match(); }
TEST_P(GoldenLogprobsCuda, PromptLogprobsAreTransformersLogSoftmax) { expect_prompt_logprobs_match(); }

void GoldenLogprobs::expect_token_logprobs_match() {
  constexpr int64_t kTop = 5;
  auto model = load();
  Engine engine(*model, nullptr, {1, 64, 8});
  for (const Sequence& s : load_golden(GetParam())) {
    for (size_t p : {size_t{0}, s.ids.size() / 2, s.ids.size() - 1}) {
      const std::vector<float>& want_logits = s.logits[p];
      const std::vector<double> want = log_softmax(want_logits);
      const std::vector<int32_t> order = ranked(want_logits);
      float max_abs = 0;
      for (float x : want_logits) max_abs = std::max(max_abs, std::abs(x));
      // The logits agree within 1e-4 of the largest (golden_test.cpp); a log-softmax moves by at
      // most twice a logit's error.
      const double tol = 2e-4 * max_abs + 1e-6;

      GenerationRequest r;
      r.prompt.assign(s.ids.begin(), s.ids.begin() + static_cast<std::ptrdiff_t>(p) + 1);
      r.sampling.temperature = 0;
      r.max_new_tokens = 1;
      r.ignore_eos = true;
      r.logprobs = kTop;
      std::optional<TokenEvent> got;
      engine.submit(r, [&](const TokenEvent& e) {
        if (e.token) got = e;
      });
      while (engine.step()) {
      }
      const std::string where = GetParam() + " after position " + std::to_string(p);
      ASSERT_TRUE(got && got->logprobs) << where;
      const int32_t token = *got->token;
      EXPECT_NEAR(got->logprobs->logprob, want[token], tol) << where << ", token " << token;
      ASSERT_EQ(got->logprobs->top.size(), static_cast<size_t>(kTop)) << where;
      for (size_t i = 0; i < kTop; ++i) {
        const TokenLogprob& alt = got->logprobs->top[i];
        EXPECT_NEAR(alt.logprob, want[alt.token], tol) << where << ", alternative " << i;
        // The rank is transformers' wherever its neighbours are further apart than the error.
        const bool clear = (i == 0 || want_logits[order[i - 1]] - want_logits[order[i]] > tol) &&
                           want_logits[order[i]] - want_logits[order[i + 1]] > tol;
        if (clear) {
          EXPECT_EQ(alt.token, order[i]) << where << ", alternative " << i;
        }
      }
      EXPECT_EQ(got->logprobs->top.front().token, token) << where << ": greedy picks the most likely token";
    }
  }
}

// The prompt scored (prompt_logprobs, what lm-eval's loglikelihood asks of a server): every token
// after the first against transformers' log-softmax at the position before it. In one prefill
// and in chunks of 5; with no token generated and with some; a prompt seen before is still
// prefilled whole (cached positions would have no logits).
void GoldenLogprobs::expect_prompt_logprobs_match() {
  constexpr int64_t kTop = 3;
  auto model = load();
  for (const int64_t chunk : {int64_t{0}, int64_t{5}}) {
    EngineLimits limits{1, 64, 8};
    limits.prefill_chunk = chunk;
    Engine engine(*model, nullptr, limits);
    for (const Sequence& s : load_golden(GetParam())) {
      for (const int64_t new_tokens : {int64_t{0}, int64_t{2}}) {
        GenerationRequest r;
        r.prompt = s.ids;
        r.sampling.temperature = 0;
        r.max_new_tokens = new_tokens;
        r.ignore_eos = true;
        r.prompt_logprobs = kTop;
        std::vector<TokenLogprobs> got;
        int events = 0, tokens = 0;
        int64_t cached = -1;
        engine.submit(r, [&](const TokenEvent& e) {
          if (events++ == 0) got = e.prompt_logprobs;
          else EXPECT_TRUE(e.prompt_logprobs.empty()) << "only the first event carries them";
          tokens += e.token.has_value();
          if (e.finished) cached = e.cached_tokens;
        });
        while (engine.step()) {
        }
        const std::string where = GetParam() + ", chunk " + std::to_string(chunk) + ", " + std::to_string(new_tokens) + " new";
        EXPECT_EQ(tokens, new_tokens) << where;
        EXPECT_EQ(cached, 0) << where;
        ASSERT_EQ(got.size(), s.ids.size() - 1) << where;
        for (size_t p = 1; p < s.ids.size(); ++p) {
          const std::vector<float>& want_logits = s.logits[p - 1];
          const std::vector<double> want = log_softmax(want_logits);
          float max_abs = 0;
          for (float x : want_logits) max_abs = std::max(max_abs, std::abs(x));
          const double tol = 2e-4 * max_abs + 1e-6;
          EXPECT_NEAR(got[p - 1].logprob, want[s.ids[p]], tol) << where << ", token " << p;
          ASSERT_EQ(got[p - 1].top.size(), static_cast<size_t>(kTop));
          EXPECT_NEAR(got[p - 1].top[0].logprob, *std::max_element(want.begin(), want.end()), tol) << where << ", token " << p;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenLogprobs, ::testing::ValuesIn(kFixtures), fixture_test_name);
INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenLogprobsGpusim, ::testing::ValuesIn(kFixtures), fixture_test_name);
INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenLogprobsCuda, ::testing::ValuesIn(kFixtures), fixture_test_name);

}  // namespace
}  // namespace fathom::engine::golden
