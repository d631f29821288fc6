// The generation engine: sampling determinism, continuous batching that does not change greedy
// results, cache-slot reuse, stop strings, limits and cancellation.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>

#include "fathom/core/error.h"
#include "fathom/engine/engine.h"
#include "fathom/engine/json_schema_grammar.h"
#include "fathom/engine/sampler.h"
#include "fathom/tokenizer/tokenizer.h"
#include "fathom/engine/ngram_draft.h"
#include "json_oracle.h"

namespace fathom::engine {
namespace {

// ---- Sampler --------------------------------------------------------------------------------

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i)) * 2;
  SamplingParams p;
  p.temperature = 1.0;
  p.top_p = 1.0;
  p.seed = 42;
  Sampler a(p), b(p);
  std::vector<int32_t> none;
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 64; ++i) sa.push_back(a.sample(logits, none, none)), sb.push_back(b.sample(logits, none, none));
  EXPECT_EQ(sa, sb);
  p.seed = 43;
  Sampler c(p);
  std::vector<int32_t> sc;
  for (int i = 0; i < 64; ++i) sc.push_back(c.sample(logits, none, none));
  EXPECT_NE(sa, sc);  // 64 draws from a spread distribution: equal only by a vanishing chance
}

TEST(Sampler, GreedyAndTruncationsPickTheTop) {
  std::vector<float> logits = {0.1f, 2.0f, 1.9f, -1.0f};
  std::vector<int32_t> none;
  SamplingParams greedy;
  greedy.temperature = 0;
  EXPECT_EQ(Sampler(greedy).sample(logits, none, none), 1);
  SamplingParams top1;
  top1.temperature = 1;
  top1.top_k = 1;
  EXPECT_EQ(Sampler(top1).sample(logits, none, none), 1);
  SamplingParams tiny_p;
  tiny_p.temperature = 1;
  tiny_p.top_p = 0.01;
  EXPECT_EQ(Sampler(tiny_p).sample(logits, none, none), 1);
  SamplingParams min_p;
  min_p.temperature = 1;
  min_p.top_p = 1;
  min_p.min_p = 0.95;  // token 2 has e^-0.1 ≈ 0.905 of the top probability: dropped
  EXPECT_EQ(Sampler(min_p).sample(logits, none, none), 1);
}

TEST(Sampler, PenaltiesChangeTheChoice) {
  std::vector<float> logits = {0.f, 2.0f, 1.9f};
  std::vector<int32_t> none, seen = {1};
  SamplingParams rep;
  rep.temperature = 0;
  rep.repetition_penalty = 1.1;  // 2.0 / 1.1 = 1.82 < 1.9
  EXPECT_EQ(Sampler(rep).sample(logits, seen, none), 2);
  SamplingParams presence;
  presence.temperature = 0;
  presence.presence_penalty = 0.2;  // 2.0 − 0.2 = 1.8 < 1.9, only for tokens already generated
  EXPECT_EQ(Sampler(presence).sample(logits, none, seen), 2);
  EXPECT_EQ(Sampler(presence).sample(logits, seen, none), 1);
}

TEST(Sampler, LogitBiasShiftsTheChoice) {
  const std::vector<float> logits = {0.1f, 2.0f, 1.9f, -1.0f};
  const std::vector<int32_t> none;
  SamplingParams p;
  p.temperature = 0;
  p.logit_bias = {{1, -100.0f}};
  EXPECT_EQ(Sampler(p).sample(logits, none, none), 2);
  p.logit_bias = {{3, 3.5f}};  // −1 + 3.5 = 2.5 > 2.0
  EXPECT_EQ(Sampler(p).sample(logits, none, none), 3);
  p.temperature = 1;
  p.top_p = 1;
  p.seed = 3;
  p.logit_bias = {{1, -100.0f}, {2, -100.0f}};
  Sampler sampled(p);
  std::map<int32_t, int> seen;
  for (int i = 0; i < 400; ++i) ++seen[sampled.sample(logits, none, none)];
  EXPECT_EQ(seen.count(1) + seen.count(2), 0u) << "a token biased by −100 came up";
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[3], 0);
  p.logit_bias = {{0, std::nanf("")}};
  EXPECT_THROW(Sampler{p}, Error);
}

TEST(Sampler, RejectsBadParameters) {
  SamplingParams p;
  p.top_p = 0;
  EXPECT_THROW(Sampler{p}, Error);
  p = SamplingParams{};
  p.temperature = -1;
  EXPECT_THROW(Sampler{p}, Error);
}

// ---- Logprobs ------------------------------------------------------------------------------

TEST(Logprobs, AreTheLogSoftmaxOfTheLogits) {
  const std::vector<float> logits = {0.0f, static_cast<float>(std::log(3.0))};  // p = 1/4, 3/4
  const TokenLogprobs got = token_logprobs(logits, 0, 2);
  EXPECT_NEAR(got.logprob, std::log(0.25), 1e-6);
  ASSERT_EQ(got.top.size(), 2u);
  EXPECT_EQ(got.top[0].token, 1);
  EXPECT_NEAR(got.top[0].logprob, std::log(0.75), 1e-6);
  EXPECT_EQ(got.top[1].token, 0);
  EXPECT_NEAR(got.top[1].logprob, std::log(0.25), 1e-6);
}

TEST(Logprobs, AVocabularyOfEqualLogitsIsUniform) {
  const std::vector<float> logits(129280, 7.5f);  // DeepSeek-V3's vocabulary: every token 1/V
  const TokenLogprobs got = token_logprobs(logits, 1234, 3);
  EXPECT_NEAR(got.logprob, -std::log(129280.0), 1e-5);
  ASSERT_EQ(got.top.size(), 3u);
  for (int32_t i = 0; i < 3; ++i) EXPECT_EQ(got.top[i].token, i) << "ties go to the lower id";
}

TEST(Logprobs, TopIsSortedAndCappedAtTheVocabulary) {
  const std::vector<float> logits = {1.0f, 3.0f, 3.0f, -2.0f, std::nanf("")};
  const TokenLogprobs got = token_logprobs(logits, 3, 10);
  ASSERT_EQ(got.top.size(), logits.size());
  const std::vector<int32_t> want = {1, 2, 0, 3, 4};  // a NaN logit ranks last
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got.top[i].token, want[i]) << i;
  EXPECT_TRUE(token_logprobs(logits, 3, 0).top.empty());
  EXPECT_THROW(token_logprobs(logits, 5, 1), Error);
  EXPECT_THROW(token_logprobs({}, 0, 1), Error);
}

// ---- SlotCache ------------------------------------------------------------------------------

TEST(SlotCache, ContinuingTakesTheHolderOtherwiseTheOldestSlotWithACopy) {
  SlotCache slots(3);
  const std::vector<int32_t> a = {1, 2, 3, 4, 5}, b = {1, 2, 9, 9};
  ASSERT_EQ(slots.take(a, true, false)->slot, 0u);  // all empty: the first
  ASSERT_EQ(slots.take(b, true, false)->slot, 1u);
  slots.give_back(0, {1, 2, 3, 4}, 0);
  slots.give_back(1, {1, 2, 9}, 0);
  // {1, 2, 3, 4, 6} continues all slot 0 holds: slot 0, nothing copied.
  auto c = slots.take(std::vector<int32_t>{1, 2, 3, 4, 6}, true, false);
  EXPECT_EQ(c->slot, 0u);
  EXPECT_EQ(c->reuse, 4u);
  EXPECT_FALSE(c->copy_from);
  slots.give_back(0, {1, 2, 3, 4}, 0);
  // {1, 2, 3, 7} would cut slot 0's {.., 4}: the never-used slot 2 takes it, with slot 0's first
  // 3 entries copied; the last prompt token is never reused.
  c = slots.take(std::vector<int32_t>{1, 2, 3, 7}, true, false);
  EXPECT_EQ(c->slot, 2u);
  EXPECT_EQ(c->reuse, 3u);
  EXPECT_EQ(c->copy_from, 0u);
  // Slot 2 is busy; slot 1 was freed before slot 0 (give_back order): nothing to reuse, slot 1.
  c = slots.take(std::vector<int32_t>{8, 8}, true, false);
  EXPECT_EQ(c->slot, 1u);
  EXPECT_EQ(c->reuse, 0u);
  EXPECT_FALSE(c->copy_from);
  // Only slot 0 is free: it is the oldest too, so it is taken, cut or not, without a copy.
  c = slots.take(std::vector<int32_t>{1, 2, 5}, true, false);
  EXPECT_EQ(c->slot, 0u);
  EXPECT_EQ(c->reuse, 2u);
  EXPECT_FALSE(c->copy_from);
  EXPECT_FALSE(slots.take(a, true, false));  // every slot busy
}

// The oldest slot's own prefix is as long as the best: taken without a copy.
TEST(SlotCache, NoCopyWhenTheOldestSlotHoldsAsMuch) {
  SlotCache slots(2);
  slots.take(std::vector<int32_t>{1}, true, false);
  slots.take(std::vector<int32_t>{1}, true, false);
  slots.give_back(0, {1, 2, 3, 8}, 0);
  slots.give_back(1, {1, 2, 3, 9}, 0);
  auto c = slots.take(std::vector<int32_t>{1, 2, 3, 7}, true, false);
  EXPECT_EQ(c->slot, 0u);
  EXPECT_EQ(c->reuse, 3u);
  EXPECT_FALSE(c->copy_from);
}

TEST(SlotCache, MtpNeedsOnePositionLessAndItsOwnRows) {
  SlotCache slots(1);
  slots.take(std::vector<int32_t>{1}, true, false);
  slots.give_back(0, {1, 2, 3, 4, 5, 6}, 4);
  const std::vector<int32_t> prompt = {1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(slots.take(prompt, true, false)->reuse, 6u);
  slots.give_back(0, {1, 2, 3, 4, 5, 6}, 4);
  EXPECT_EQ(slots.take(prompt, true, true)->reuse, 4u);  // the MTP rows written: 4
  slots.give_back(0, {1, 2, 3, 4, 5, 6}, 6);
  EXPECT_EQ(slots.take(prompt, true, true)->reuse, 5u);  // row 5 pairs with position 6's token, new here
  slots.give_back(0, {1, 2, 3, 4, 5, 6}, 6);
  EXPECT_EQ(slots.take(prompt, false, false)->reuse, 0u);  // prefix caching off
}

// ---- Prompt-lookup drafts --------------------------------------------------------------------

TEST(NgramDrafts, LongestTailLatestOccurrence) {
  const std::vector<int32_t> prompt = {5, 6, 7, 8, 1, 2, 3, 9, 9, 2, 3, 4, 4};
  // Tail {2, 3}: its latest earlier occurrence (positions 9-10) was followed by 4, 4.
  EXPECT_EQ(ngram_drafts(prompt, std::vector<int32_t>{1, 2, 3}, 3, 3), (std::vector<int32_t>{9, 9, 2}));
  EXPECT_EQ(ngram_drafts(prompt, std::vector<int32_t>{2, 3}, 3, 2), (std::vector<int32_t>{4, 4}));
  EXPECT_EQ(ngram_drafts(prompt, std::vector<int32_t>{7}, 3, 5), (std::vector<int32_t>{8, 1, 2, 3, 9}));
  // Only as many as the sequence holds after the match.
  EXPECT_EQ(ngram_drafts(std::vector<int32_t>{1, 2, 1}, std::vector<int32_t>{}, 3, 4), (std::vector<int32_t>{2, 1}));
  EXPECT_TRUE(ngram_drafts(prompt, std::vector<int32_t>{42}, 3, 3).empty());  // never seen
  EXPECT_TRUE(ngram_drafts(std::vector<int32_t>{3}, std::vector<int32_t>{}, 3, 3).empty());
}

// The index gives what the scan gives, token by token as a sequence grows (a small alphabet, so
// that n-grams recur).
TEST(NgramDrafts, IndexAgreesWithTheScan) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> token(0, 4);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<int32_t> prompt(static_cast<size_t>(1 + trial % 7)), output;
    for (int32_t& t : prompt) t = token(rng);
    NgramIndex index;
    for (int step = 0; step < 60; ++step) {
      index.extend(prompt, output);
      for (size_t max_n : {1u, 2u, 3u}) {
        for (size_t count : {1u, 3u, 8u}) {
          ASSERT_EQ(index.drafts(max_n, count), ngram_drafts(prompt, output, max_n, count))
              << "trial " << trial << " step " << step << " n " << max_n << " count " << count;
        }
      }
      output.push_back(token(rng));
    }
  }
}

// ---- Engine ---------------------------------------------------------------------------------

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_dir_ = std::filesystem::temp_directory_path() / ("fathom_engine_" + std::to_string(getpid()));
    markov_dir_ = model_dir_.string() + "-markov";
    std::filesystem::remove_all(model_dir_);
    std::filesystem::remove_all(markov_dir_);
    for (const auto& [dir, flags] : {std::pair{model_dir_, ""}, std::pair{markov_dir_, " --markov"}}) {
      const std::string cmd = std::string(FATHOM_BINARY_DIR) + "/bin/fathom make-tiny --out " + dir.string() + flags + " 2>/dev/null";
      ASSERT_EQ(std::system(cmd.c_str()), 0);
    }
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(model_dir_);
    std::filesystem::remove_all(markov_dir_);
  }

  void SetUp() override {
    config_ = default_config();
    // The reference backend unless a test says otherwise (use_only): the engine's logic is judged
    // on exact arithmetic, the same on every machine ("auto" would pick a GPU where there is one).
    config_.runtime.backends = {"reference"};
    config_.runtime.plugin_path = {FATHOM_PLUGIN_DIR};
    host_ = std::make_unique<PluginHost>(config_);
    tok_ = tokenizer::Tokenizer::load(model_dir_);
  }

  // Runs the rest of the test on `backend` alone; returns why it cannot (empty when it can).
  std::string use_only(const std::string& backend) {
    config_ = parse_config("[runtime]\nbackends = [\"" + backend + "\"]\n", "engine-" + backend + ".toml");
    config_.runtime.plugin_path = {FATHOM_PLUGIN_DIR, FATHOM_GPUSIM_DIR};
    host_ = std::make_unique<PluginHost>(config_);
    try {
      host_->backend(backend);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  std::unique_ptr<LoadedModel> load(int64_t slots, bool mtp = false, const std::filesystem::path& dir = model_dir_) {
    ModelOptions o;
    o.n_slots = slots;
    o.max_seq_len = 96;
    o.load_mtp = mtp;
    return std::make_unique<LoadedModel>(dir, config_, *host_, o);
  }

  std::vector<int32_t> to_ids(const std::string& text) const {
    auto ids = tok_->encode(text, /*add_special_tokens=*/true);
    return std::vector<int32_t>(ids.begin(), ids.end());
  }

  static GenerationRequest greedy(std::vector<int32_t> prompt, int64_t n) {
    GenerationRequest r;
    r.prompt = std::move(prompt);
    r.sampling.temperature = 0;
    r.max_new_tokens = n;
    r.ignore_eos = true;
    return r;
  }

  struct Outcome {
    std::vector<int32_t> tokens;
    std::vector<TokenLogprobs> logprobs;  // when the request asked for them
    std::string text;
    FinishReason reason = FinishReason::none;
  };

  // Runs the requests through one engine, submitting request i before step start_step[i].
  std::vector<Outcome> run(Engine& e, const std::vector<GenerationRequest>& reqs, const std::vector<int>& start_step) {
    std::vector<Outcome> out(reqs.size());
    size_t finished = 0;
    for (int step = 0; finished < reqs.size(); ++step) {
      for (size_t i = 0; i < reqs.size(); ++i) {
        if (start_step[i] != step) continue;
        e.submit(reqs[i], [&, i](const TokenEvent& ev) {
          if (ev.token) out[i].tokens.push_back(*ev.token);
          if (ev.logprobs) out[i].logprobs.push_back(*ev.logprobs);
          out[i].text += ev.text;
          if (ev.finished) out[i].reason = ev.reason, ++finished;
        });
      }
      e.step();
      EXPECT_LT(step, 1000);
    }
    return out;
  }

  Outcome alone(const GenerationRequest& r, const std::filesystem::path& dir = model_dir_) {
    auto model = load(1, false, dir);
    Engine e(*model, &*tok_, {1, 96, 8});
    return run(e, {r}, {0})[0];
  }

  // Twelve requests for up to 60 tokens that may end at EOS: one greedy, eleven sampled (seeds 2-12).
  std::vector<GenerationRequest> twelve_requests(const std::string& prompt) {
    std::vector<GenerationRequest> reqs;
    for (uint64_t seed = 1; seed <= 12; ++seed) {
      GenerationRequest r = greedy(to_ids(prompt), 60);
      r.ignore_eos = false;
      r.sampling.temperature = seed == 1 ? 0.0 : 1.0;
      r.sampling.seed = seed;
      reqs.push_back(r);
    }
    return reqs;
  }

  // Structured output on the demo model: twelve requests for JSON (one greedy, eleven sampled),
  // each given its constraint by `constrain`, run with and without n-gram speculation.
  // Returns each run's outcomes.
  std::vector<std::vector<Outcome>> run_structured(const std::function<void(GenerationRequest&)>& constrain) {
    std::vector<GenerationRequest> reqs = twelve_requests("Reply in JSON.");
    for (GenerationRequest& r : reqs) constrain(r);
    std::vector<std::vector<Outcome>> runs;
    for (const Speculation speculation : {Speculation::off, Speculation::ngram}) {
      auto model = load(4);
      Engine e(*model, &*tok_, {4, 96, 16}, speculation);
      runs.push_back(run(e, reqs, std::vector<int>(reqs.size(), 0)));
    }
    return runs;
  }

  // Prompts of different lengths with different budgets: some sequences leave early.
  static std::vector<GenerationRequest> assorted_requests(size_t n) {
    std::vector<GenerationRequest> reqs;
    for (size_t i = 0; i < n; ++i) {
      std::vector<int32_t> prompt;
      for (size_t j = 0; j < 3 + 2 * i; ++j) prompt.push_back(static_cast<int32_t>(3 + (i * 31 + j * 7) % 250));
      reqs.push_back(greedy(prompt, static_cast<int64_t>(4 + i % 3 * 5)));
    }
    return reqs;
  }

  static inline std::filesystem::path model_dir_, markov_dir_;
  Config config_;
  std::unique_ptr<PluginHost> host_;
  std::optional<tokenizer::Tokenizer> tok_;
};

// Requests joining and leaving the running batch get exactly the tokens they get alone.
TEST_F(EngineTest, BatchingDoesNotChangeGreedyOutput) {
  std::vector<GenerationRequest> reqs = assorted_requests(8);
  auto model = load(4);  // fewer slots than requests: later ones wait and join as others leave
  Engine e(*model, &*tok_, {4, 96, 16});
  auto together = run(e, reqs, {0, 0, 0, 1, 2, 2, 5, 6});
  for (size_t i = 0; i < reqs.size(); ++i) {
    Outcome solo = alone(reqs[i]);
    EXPECT_EQ(together[i].tokens, solo.tokens) << "request " << i;
    EXPECT_EQ(together[i].reason, FinishReason::length);
    EXPECT_EQ(together[i].tokens.size(), static_cast<size_t>(reqs[i].max_new_tokens));
  }
}

// A slot freed by one sequence serves the next as if the cache were fresh.
TEST_F(EngineTest, ReusedCacheSlotGivesFreshResults) {
  auto model = load(1);
  Engine e(*model, &*tok_, {1, 96, 8});
  GenerationRequest long_one = greedy({10, 20, 30, 40, 50, 60, 70, 80}, 12), short_one = greedy({5, 6}, 6);
  run(e, {long_one}, {0});
  auto second = run(e, {short_one}, {0})[0];
  EXPECT_EQ(second.tokens, alone(short_one).tokens);
}

TEST_F(EngineTest, SameSeedSameSampledText) {
  GenerationRequest r = greedy(to_ids("Hello"), 16);
  r.sampling.temperature = 0.8;
  r.sampling.seed = 99;
  EXPECT_EQ(alone(r).tokens, alone(r).tokens);
}

TEST_F(EngineTest, StopStringEndsGenerationBeforeIt) {
  GenerationRequest r = greedy(to_ids("Hello"), 24);
  Outcome full = alone(r);
  ASSERT_GE(full.text.size(), 12u);
  const std::string stop = full.text.substr(6, 3);
  r.stop_strings = {stop};
  Outcome cut = alone(r);
  EXPECT_EQ(cut.reason, FinishReason::stop);
  EXPECT_EQ(cut.text, full.text.substr(0, full.text.find(stop)));
}

TEST_F(EngineTest, LimitsAreClearErrorsAndTheEngineKeepsWorking) {
  auto model = load(1);
  Engine e(*model, &*tok_, {1, 96, 1});
  try {
    e.submit(greedy(std::vector<int32_t>(90, 5), 10), [](const TokenEvent&) {});
    FAIL() << "expected out_of_range";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::out_of_range);
    EXPECT_NE(std::string(err.what()).find("max_seq_len"), std::string::npos);
  }
  EXPECT_THROW(e.submit(greedy({100000}, 2), [](const TokenEvent&) {}), Error);  // outside the vocabulary
  e.submit(greedy({1, 2}, 30), [](const TokenEvent&) {});
  try {
    e.submit(greedy({1, 2}, 3), [](const TokenEvent&) {});  // the one queue place is taken
    FAIL() << "expected resource_exhausted";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::resource_exhausted);
  }
  while (e.step()) {
  }
  EXPECT_EQ(run(e, {greedy({7, 8}, 3)}, {0})[0].tokens.size(), 3u);
}

// prefill_chunk: a long prompt is prefilled a chunk per step, and a sequence already running
// gets a token in every one of those steps; both get the tokens they get alone (whole prompts).
TEST_F(EngineTest, LongPromptIsPrefilledInChunksWhileOthersDecode) {
  auto model = load(2);
  EngineLimits limits{2, 96, 8};
  limits.prefill_chunk = 8;
  Engine e(*model, &*tok_, limits);
  std::vector<int32_t> long_prompt;
  for (int i = 0; i < 60; ++i) long_prompt.push_back(3 + (i * 13) % 250);
  const std::vector<GenerationRequest> reqs = {greedy({10, 11, 12}, 30), greedy(long_prompt, 5)};
  std::vector<Outcome> out(reqs.size());
  int tokens_this_step[2] = {0, 0};
  auto submit = [&](size_t i) {
    e.submit(reqs[i], [&, i](const TokenEvent& ev) {
      if (ev.token) out[i].tokens.push_back(*ev.token), ++tokens_this_step[i];
    });
  };
  submit(0);
  e.step();
  submit(1);
  int steps_until_first_token = 0;
  while (out[1].tokens.empty()) {
    tokens_this_step[0] = 0;
    e.step();
    ++steps_until_first_token;
    EXPECT_EQ(tokens_this_step[0], 1) << "step " << steps_until_first_token;  // never stalled
    ASSERT_LT(steps_until_first_token, 100);
  }
  EXPECT_EQ(steps_until_first_token, (60 + 7) / 8);
  while (e.step()) {
  }
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(out[i].tokens, alone(reqs[i]).tokens) << "request " << i;
}

// Prefix caching: a request whose prompt begins with what a free slot's cache holds prefills only
// the rest, and gets the tokens a fresh engine gives it.
class PrefixCaching : public EngineTest {
 protected:
  struct Reply {
    std::vector<int32_t> tokens;
    int64_t cached = -1;  // from the finishing event
  };
  static Reply generate(Engine& e, const GenerationRequest& r) {
    Reply out;
    bool done = false;
    e.submit(r, [&](const TokenEvent& ev) {
      if (ev.token) out.tokens.push_back(*ev.token);
      if (ev.finished) out.cached = ev.cached_tokens, done = true;
    });
    for (int step = 0; !done; ++step) {
      e.step();
      EXPECT_LT(step, 1000);
    }
    return out;
  }
  // Two conversations that share a system prompt: the second copies the prompt's entries from
  // the first's slot into a free one, and the first conversation's next turn still finds all of
  // its own.
  void expect_shared_prefix_copied() {
    auto model = load(3);
    Engine e(*model, &*tok_, {3, 96, 8});
    const std::vector<int32_t> system = {10, 11, 12, 13, 14, 15};
    auto with_question = [&](std::vector<int32_t> q, int64_t n) {
      std::vector<int32_t> p = system;
      p.insert(p.end(), q.begin(), q.end());
      return greedy(p, n);
    };
    const GenerationRequest first = with_question({20, 21}, 8);
    const Reply a = generate(e, first);
    const GenerationRequest other = with_question({30, 31}, 6);
    const Reply b = generate(e, other);
    EXPECT_EQ(b.cached, 6);  // the system prompt, copied
    EXPECT_EQ(b.tokens, alone(other).tokens);
    const GenerationRequest turn = next_turn(first, a, 7, 5);
    const Reply c = generate(e, turn);
    EXPECT_EQ(c.cached, 8 + 7);  // the first conversation's slot was left alone
    EXPECT_EQ(c.tokens, alone(turn).tokens);
  }

  // A conversation's next turn: the first prompt, `kept` of its reply, then new tokens.
  static GenerationRequest next_turn(const GenerationRequest& first, const Reply& reply, size_t kept, int64_t n) {
    std::vector<int32_t> prompt = first.prompt;
    prompt.insert(prompt.end(), reply.tokens.begin(), reply.tokens.begin() + static_cast<ptrdiff_t>(kept));
    for (int32_t t : {77, 78, 79}) prompt.push_back(t);
    return greedy(prompt, n);
  }
};

TEST_F(PrefixCaching, NextTurnPrefillsOnlyWhatIsNew) {
  auto model = load(2);
  Engine e(*model, &*tok_, {2, 96, 8});
  const GenerationRequest first = greedy({10, 11, 12, 13, 14, 15}, 10);
  const Reply a = generate(e, first);
  EXPECT_EQ(a.cached, 0);
  const GenerationRequest second = next_turn(first, a, 6, 8);
  const Reply b = generate(e, second);
  EXPECT_EQ(b.cached, 6 + 6);  // the first prompt and the 6 reply tokens it kept
  EXPECT_EQ(b.tokens, alone(second).tokens);
  // The same prompt again: all but its last token (whose logits give the first token).
  const Reply again = generate(e, second);
  EXPECT_EQ(again.cached, static_cast<int64_t>(second.prompt.size()) - 1);
  EXPECT_EQ(again.tokens, b.tokens);
}

// A request with nothing to reuse takes the slot freed longest ago (or never used), not the one
// whose conversation just ended: that conversation's next turn still finds its cache.
TEST_F(PrefixCaching, UnrelatedRequestLeavesTheLatestConversationAlone) {
  auto model = load(2);
  Engine e(*model, &*tok_, {2, 96, 8});
  const GenerationRequest first = greedy({10, 11, 12, 13, 14, 15}, 8);
  const Reply a = generate(e, first);
  generate(e, greedy({90, 91, 92}, 4));  // unrelated: the other slot
  EXPECT_EQ(generate(e, next_turn(first, a, 4, 4)).cached, 6 + 4);
}

TEST_F(PrefixCaching, ASharedPrefixIsCopiedAndTheOtherConversationKept) { expect_shared_prefix_copied(); }

// The same copy through the CUDA backend's device-to-device buffer copy, on the GPU simulator.
TEST_F(PrefixCaching, ASharedPrefixIsCopiedOnTheGpuSimulatorToo) {
  if (const std::string why = use_only("gpusim32"); !why.empty()) GTEST_SKIP() << why;
  expect_shared_prefix_copied();
}

// The GPU backends' device time per node (`profile_nodes`), on the simulator: every node of a
// decode step is booked once per step, except the nodes inside fused runs, whose time goes to
// the run's last node; and with profiling off there is nothing to report.
TEST_F(EngineTest, GpuBackendTimesEveryNodeWhenAskedTo) {
  if (const std::string why = use_only("gpusim32"); !why.empty()) GTEST_SKIP() << why;
  auto node_calls = [&](bool profile) {
    config_ = parse_config(std::string("[runtime]\nbackends = [\"gpusim32\"]\n[backend.gpusim32]\nprofile_nodes = ") +
                               (profile ? "true" : "false") + "\n",
                           "engine-profile.toml");
    config_.runtime.plugin_path = {FATHOM_PLUGIN_DIR, FATHOM_GPUSIM_DIR};
    host_ = std::make_unique<PluginHost>(config_);
    auto model = load(1);
    Engine e(*model, &*tok_, {1, 96, 8});
    const Outcome out = run(e, {greedy(to_ids("Hello"), 4)}, {0})[0];
    EXPECT_EQ(out.tokens.size(), 4u);
    std::map<std::string, uint64_t> calls;  // decode nodes by name
    for (const auto& t : model->node_times()) {
      if (t.node.rfind("decode:", 0) == 0) calls[t.node.substr(7)] = t.calls;
    }
    return calls;
  };
  EXPECT_TRUE(node_calls(false).empty());
  const auto calls = node_calls(true);
  ASSERT_FALSE(calls.empty());
  // Three decode steps after the prefill's token. Booked to themselves: the attention op (the
  // last node of MLA's fused inputs) and lm_head; folded into it: q's rope.
  EXPECT_EQ(calls.at("layers.0.self_attn.attention"), 3u);
  EXPECT_EQ(calls.at("lm_head"), 3u);
  EXPECT_EQ(calls.at("layers.0.self_attn.q_rope"), 0u);
  size_t booked = 0;
  for (const auto& [node, n] : calls) {
    EXPECT_TRUE(n == 0 || n == 3) << node << ": " << n;
    booked += n == 3;
  }
  EXPECT_GT(booked, 10u);
}

TEST_F(PrefixCaching, OffPrefillsEverything) {
  auto model = load(1);
  EngineLimits limits{1, 96, 8};
  limits.prefix_caching = false;
  Engine e(*model, &*tok_, limits);
  const GenerationRequest first = greedy({10, 11, 12, 13}, 6);
  generate(e, first);
  EXPECT_EQ(generate(e, first).cached, 0);
}

// With MTP drafts the MTP layer's cache must be valid too: one position less is reused (the MTP
// row before the first new token pairs with that token), and drafts are as good as before.
// Requests submitted together (the n choices of one server request) over one prompt: the first
// prefills it, the others wait for that and copy it. With `prefill_chunk` 16 the first prefill
// takes four steps; the others wait while what is still to come would save kMinSharedPrefill
// (32) tokens or more: after two chunks 17 remain, so they copy the 32 written then.
TEST_F(PrefixCaching, RequestsOverOnePromptPrefillItOnce) {
  std::vector<int32_t> prompt;
  for (int i = 0; i < 50; ++i) prompt.push_back(3 + (i * 17) % 250);
  for (const int64_t chunk : {int64_t{0}, int64_t{16}}) {
    auto model = load(3);
    EngineLimits limits{3, 96, 8};
    limits.prefill_chunk = chunk;
    Engine e(*model, &*tok_, limits);
    const std::vector<GenerationRequest> reqs(3, greedy(prompt, 6));
    std::vector<Reply> replies(reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) {
      e.submit(reqs[i], [&, i](const TokenEvent& ev) {
        if (ev.token) replies[i].tokens.push_back(*ev.token);
        if (ev.finished) replies[i].cached = ev.cached_tokens;
      });
    }
    for (int step = 0; e.step(); ++step) ASSERT_LT(step, 100);
    const std::vector<int32_t> want = alone(reqs[0]).tokens;
    EXPECT_EQ(replies[0].cached, 0) << "chunk " << chunk;
    const int64_t copied = chunk == 0 ? 49 : 32;
    for (size_t i = 0; i < reqs.size(); ++i) {
      EXPECT_EQ(replies[i].tokens, want) << "request " << i << ", chunk " << chunk;
      if (i > 0) {
        EXPECT_EQ(replies[i].cached, copied) << "request " << i << ", chunk " << chunk;
      }
    }
    EXPECT_EQ(e.prompt_stats().cached_tokens, 2u * static_cast<uint64_t>(copied));
  }
}

// The same with MTP speculation: the copy carries the MTP layer's entries too, and the drafts
// still hold (a wrong MTP cache would show as tokens that differ, or drafts rejected).
TEST_F(PrefixCaching, RequestsOverOnePromptShareItWithMtpSpeculation) {
  std::vector<int32_t> prompt;
  for (int i = 0; i < 50; ++i) prompt.push_back(3 + (i * 17) % 250);
  auto model = load(3, /*mtp=*/true, markov_dir_);
  Engine e(*model, &*tok_, {3, 96, 8}, Speculation::mtp);
  const std::vector<GenerationRequest> reqs(3, greedy(prompt, 16));
  auto together = run(e, reqs, {0, 0, 0});
  const std::vector<int32_t> want = alone(reqs[0], markov_dir_).tokens;
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(together[i].tokens, want) << "request " << i;
  // All but the last prompt position, as without MTP: MTP row i pairs position i with token
  // i + 1, and up to position 48 that token is the shared prompt's.
  EXPECT_EQ(e.prompt_stats().cached_tokens, 2u * 49);
  const SpeculationStats stats = e.speculation_stats();
  EXPECT_GT(stats.accepted, stats.drafted / 2);
}

// A prefix that a sequence still running has written (a system prompt shared with a conversation
// in progress) is copied from its slot; the running sequence goes on undisturbed.
TEST_F(PrefixCaching, APrefixARunningSequenceWroteIsCopied) {
  std::vector<int32_t> system;
  for (int i = 0; i < 40; ++i) system.push_back(3 + (i * 29) % 250);
  auto ask = [&](std::vector<int32_t> q, int64_t n) {
    std::vector<int32_t> p = system;
    p.insert(p.end(), q.begin(), q.end());
    return greedy(p, n);
  };
  const GenerationRequest first = ask({20, 21}, 24), second = ask({30, 31, 32}, 8);
  auto model = load(2);
  Engine e(*model, &*tok_, {2, 96, 8});
  auto together = run(e, {first, second}, {0, 3});  // the second arrives while the first decodes
  EXPECT_EQ(together[0].tokens, alone(first).tokens);
  EXPECT_EQ(together[1].tokens, alone(second).tokens);
  EXPECT_EQ(e.prompt_stats().cached_tokens, 40u);
}

// Below kMinSharedPrefill shared tokens, waiting would cost more than it saves: requests
// submitted together are prefilled together.
TEST_F(PrefixCaching, AShortSharedPrefixIsNotWaitedFor) {
  auto model = load(2);
  Engine e(*model, &*tok_, {2, 96, 8});
  const std::vector<GenerationRequest> reqs = {greedy({10, 11, 12, 13, 14, 15, 16}, 4), greedy({10, 11, 12, 13, 14, 15, 17}, 4)};
  int first_tokens_in_step_one = 0;
  for (const auto& r : reqs) {
    e.submit(r, [&](const TokenEvent& ev) { first_tokens_in_step_one += ev.token && ev.completion_tokens == 1; });
  }
  e.step();
  EXPECT_EQ(first_tokens_in_step_one, 2);
  while (e.step()) {
  }
  EXPECT_EQ(e.prompt_stats().cached_tokens, 0u);
}

TEST_F(PrefixCaching, MtpSpeculationReusesItsCacheToo) {
  auto model = load(2, /*mtp=*/true, markov_dir_);
  Engine e(*model, &*tok_, {2, 96, 8}, Speculation::mtp);
  const GenerationRequest first = greedy({10, 11, 12, 13, 14, 15}, 12);
  const Reply a = generate(e, first);
  const GenerationRequest second = next_turn(first, a, 8, 20);
  const SpeculationStats before = e.speculation_stats();
  const Reply b = generate(e, second);
  EXPECT_EQ(b.cached, 6 + 8 - 1);
  EXPECT_EQ(b.tokens, alone(second, markov_dir_).tokens);
  const SpeculationStats after = e.speculation_stats();
  EXPECT_GT(after.accepted - before.accepted, (after.drafted - before.drafted) / 2);
}

// Prompt-lookup speculation: several drafts per step, for a model without an MTP module. The
// demo model's greedy text falls into loops, which the lookup drafts well; the output is still the
// plain engine's, greedy or sampled.
TEST_F(EngineTest, NgramSpeculationGivesThePlainEnginesTokens) {
  std::vector<GenerationRequest> reqs = assorted_requests(6);
  for (auto& r : reqs) r.max_new_tokens = 30;
  reqs[2].sampling.temperature = 0.8;
  reqs[2].sampling.seed = 5;
  reqs[4].max_new_tokens = 3;
  auto model = load(3);
  EngineLimits limits{3, 96, 16};
  limits.speculative_tokens = 4;
  Engine e(*model, &*tok_, limits, Speculation::ngram);
  auto together = run(e, reqs, {0, 0, 1, 2, 2, 4});
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(together[i].tokens, alone(reqs[i]).tokens) << "request " << i;
    EXPECT_EQ(together[i].tokens.size(), static_cast<size_t>(reqs[i].max_new_tokens)) << "request " << i;
  }
  const SpeculationStats stats = e.speculation_stats();
  std::printf("n-gram drafts: %llu verified, %llu accepted, in %llu decode steps\n",
              static_cast<unsigned long long>(stats.drafted), static_cast<unsigned long long>(stats.accepted),
              static_cast<unsigned long long>(stats.steps));
  EXPECT_GT(stats.accepted, 0u);
  EXPECT_LT(stats.accepted, stats.drafted);
}

// JSON mode on the demo model (random weights, so nothing but the mask makes its text JSON): every
// output is a JSON prefix to nlohmann's parser, and every output that ended by itself (stop, not
// length) is a whole JSON object. Greedy or sampled, with n-gram speculation too.
TEST_F(EngineTest, JsonModeOutputIsJson) {
  for (const auto& outs : run_structured([](GenerationRequest& r) { r.json_object = true; })) {
    int whole = 0;
    for (size_t i = 0; i < outs.size(); ++i) {
      const NlohmannVerdict v = nlohmann_verdict(outs[i].text);
      EXPECT_TRUE(v.prefix) << "request " << i << ": " << outs[i].text;
      if (outs[i].reason == FinishReason::stop) {
        EXPECT_TRUE(v.whole) << "request " << i << " stopped, but is not JSON: " << outs[i].text;
        EXPECT_TRUE(nlohmann::json::parse(outs[i].text).is_object()) << outs[i].text;
        ++whole;
      }
    }
    std::printf("JSON mode: %d of %zu outputs closed their object\n", whole, outs.size());
    EXPECT_GT(whole, 0) << "no output closed its object: the end-of-sequence path went untested";
  }
  GenerationRequest with_min = greedy(to_ids("Reply in JSON."), 60);
  with_min.json_object = true;
  with_min.min_tokens = 2;
  auto model = load(1);
  Engine e(*model, &*tok_, {1, 96, 8});
  EXPECT_THROW(e.submit(with_min, [](const TokenEvent&) {}), Error);
}

// Structured output: under a JSON schema every output that stopped is an object the schema
// accepts (checked here by hand, member by member; tests/server checks with jsonschema), with
// and without speculation, and an output cut short is still a prefix of JSON.
TEST_F(EngineTest, JsonSchemaOutputFollowsTheSchema) {
  const auto grammar = json_schema_grammar(std::string_view(R"({
      "type": "object",
      "properties": {"name": {"type": "string", "maxLength": 8}, "age": {"type": "integer"},
                     "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2}},
      "required": ["name", "age"], "additionalProperties": false})"));
  for (const auto& outs : run_structured([&](GenerationRequest& r) { r.grammar = grammar; })) {
    int whole = 0;
    for (size_t i = 0; i < outs.size(); ++i) {
      EXPECT_TRUE(nlohmann_verdict(outs[i].text).prefix) << "request " << i << ": " << outs[i].text;
      if (outs[i].reason != FinishReason::stop) continue;
      ++whole;
      const auto v = nlohmann::ordered_json::parse(outs[i].text);
      ASSERT_TRUE(v.is_object()) << outs[i].text;
      std::vector<std::string> keys;
      for (const auto& [key, value] : v.items()) keys.push_back(key);
      ASSERT_GE(keys.size(), 2u) << outs[i].text;
      EXPECT_EQ(keys[0], "name");
      EXPECT_EQ(keys[1], "age");
      EXPECT_TRUE(v["name"].is_string() && v["name"].get<std::string>().size() <= 8 * 4) << outs[i].text;
      EXPECT_TRUE(v["age"].is_number_integer()) << outs[i].text;
      if (keys.size() == 3) {
        EXPECT_EQ(keys[2], "tags");
        ASSERT_TRUE(v["tags"].is_array()) << outs[i].text;
        EXPECT_LE(v["tags"].size(), 2u);
        for (const auto& t : v["tags"]) EXPECT_TRUE(t == "a" || t == "b") << outs[i].text;
      }
      EXPECT_LE(keys.size(), 3u) << outs[i].text;
    }
    std::printf("JSON schema: %d of %zu outputs closed their object\n", whole, outs.size());
    EXPECT_GT(whole, 0) << "no output closed its object: the end-of-sequence path went untested";
  }
  auto model = load(1);
  Engine e(*model, &*tok_, {1, 96, 8});
  GenerationRequest both = greedy(to_ids("Reply in JSON."), 60);
  both.grammar = grammar;
  both.json_object = true;
  EXPECT_THROW(e.submit(both, [](const TokenEvent&) {}), Error) << "JSON mode and a schema together";
  GenerationRequest with_min = greedy(to_ids("Reply in JSON."), 60);
  with_min.grammar = grammar;
  with_min.min_tokens = 2;
  EXPECT_THROW(e.submit(with_min, [](const TokenEvent&) {}), Error);
}

// A reasoning model's structured output (structured_after "</think>"): nothing is constrained
// before the marker, so the output up to it is the unconstrained output token for token; after
// it the output is JSON. The demo model writes no "</think>", so markers are taken from what it
// writes unconstrained: two ASCII letters or digits in a row.
TEST_F(EngineTest, StructuredOutputCanStartAfterAMarker) {
  const std::vector<GenerationRequest> free_requests = twelve_requests("Think, then reply in JSON.");
  auto model = load(4);
  Engine e(*model, &*tok_, {4, 96, 16});
  const std::vector<Outcome> free = run(e, free_requests, std::vector<int>(free_requests.size(), 0));

  std::vector<GenerationRequest> never, after;
  std::vector<size_t> source;  // per request of `after`: the free request it repeats
  for (size_t i = 0; i < free.size(); ++i) {
    GenerationRequest r = free_requests[i];
    r.json_object = true;
    r.structured_after = "</think>";
    ASSERT_EQ(free[i].text.find(r.structured_after), std::string::npos);
    never.push_back(r);
    const std::string& text = free[i].text;
    const auto ascii_alnum = [&](size_t at) {
      const auto c = static_cast<unsigned char>(text[at]);
      return c < 0x80 && std::isalnum(c);
    };
    for (size_t at = 0; at + 1 < text.size(); ++at) {
      if (ascii_alnum(at) && ascii_alnum(at + 1)) {
        r.structured_after = text.substr(at, 2);
        after.push_back(r);
        source.push_back(i);
        break;
      }
    }
  }
  const std::vector<Outcome> unconstrained = run(e, never, std::vector<int>(never.size(), 0));
  for (size_t i = 0; i < free.size(); ++i) EXPECT_EQ(unconstrained[i].tokens, free[i].tokens) << "request " << i;

  ASSERT_GE(after.size(), 6u) << "too few outputs with a marker to test";
  const std::vector<Outcome> outs = run(e, after, std::vector<int>(after.size(), 0));
  int whole = 0;
  for (size_t k = 0; k < after.size(); ++k) {
    const std::string& marker = after[k].structured_after;
    const std::string& reference = free[source[k]].text;
    const size_t end = reference.find(marker) + marker.size();
    const std::string& got = outs[k].text;
    ASSERT_GE(got.size(), end) << "request " << k;
    EXPECT_EQ(got.substr(0, end), reference.substr(0, end)) << "request " << k << ": free up to the marker";
    const size_t start = got.find_first_not_of(" \n\r\t", end);
    const std::string rest = start == std::string::npos ? std::string() : got.substr(start);
    const NlohmannVerdict v = nlohmann_verdict(rest);
    EXPECT_TRUE(v.prefix) << "request " << k << " after " << marker << ": " << rest;
    if (outs[k].reason == FinishReason::stop) {
      EXPECT_TRUE(v.whole && nlohmann::json::parse(rest).is_object()) << "request " << k << ": " << rest;
      ++whole;
    }
  }
  EXPECT_GT(whole, 0) << "no output closed its object after the marker";
}

// Requests with equal schemas, each compiled on its own (as the server does per request), share
// one automaton and its masks: built once, then found built; a different schema builds its own.
TEST_F(EngineTest, EqualSchemasShareOneAutomaton) {
  const std::string_view schema = R"({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]})";
  auto model = load(2);
  Engine e(*model, &*tok_, {2, 96, 8});
  auto request = [&](std::string_view text) {
    GenerationRequest r = greedy(to_ids("JSON:"), 24);
    r.ignore_eos = false;
    r.grammar = json_schema_grammar(text);
    return r;
  };
  const auto first = run(e, {request(schema)}, {0});
  EXPECT_EQ(e.grammar_stats().built, 1u);
  EXPECT_EQ(e.grammar_stats().reused, 0u);
  const auto again = run(e, {request(schema), request(schema)}, {0, 0});
  EXPECT_EQ(e.grammar_stats().built, 1u);
  EXPECT_EQ(e.grammar_stats().reused, 2u);
  EXPECT_EQ(again[0].tokens, first[0].tokens) << "greedy under the same grammar: the same tokens";
  EXPECT_EQ(again[1].tokens, first[0].tokens);
  run(e, {request(R"({"type": "array", "items": {"type": "integer"}})")}, {0});
  EXPECT_EQ(e.grammar_stats().built, 2u);
}

// min_tokens (vLLM's): the stop token ids cannot end the sequence before that many tokens; the
// tokens before the first banned position are the free run's.
TEST_F(EngineTest, MinTokensHoldsBackStopTokens) {
  GenerationRequest r = greedy(to_ids("Hello"), 12);
  const Outcome free_run = alone(r);
  const int32_t stop = free_run.tokens[2];
  const size_t first = static_cast<size_t>(std::find(free_run.tokens.begin(), free_run.tokens.end(), stop) - free_run.tokens.begin());
  r.stop_token_ids = {stop};
  const Outcome stopped = alone(r);
  EXPECT_EQ(stopped.tokens.size(), first + 1);
  EXPECT_EQ(stopped.reason, FinishReason::stop);

  r.min_tokens = 6;
  const Outcome held = alone(r);
  ASSERT_GE(held.tokens.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_NE(held.tokens[i], stop) << "token " << i;
  EXPECT_TRUE(std::equal(held.tokens.begin(), held.tokens.begin() + static_cast<std::ptrdiff_t>(first), free_run.tokens.begin()));
  if (held.tokens.size() < 12) {
    EXPECT_EQ(held.tokens.back(), stop);
    EXPECT_EQ(held.reason, FinishReason::stop);
  }

  auto model = load(1);
  Engine e(*model, &*tok_, {1, 96, 8});
  r.min_tokens = 13;
  EXPECT_THROW(e.submit(r, [](const TokenEvent&) {}), Error) << "min_tokens above max_new_tokens";
  r.min_tokens = 0;
  r.sampling.logit_bias = {{static_cast<int32_t>(model->spec().vocab_size), 1.0f}};
  EXPECT_THROW(e.submit(r, [](const TokenEvent&) {}), Error) << "a biased id outside the vocabulary";
}

// Logprobs describe the model, not the sampler: the first token's distribution is the same
// whatever the temperature or penalties, and n-gram speculation (tokens from verified draft rows)
// reports what the plain engine reports.
TEST_F(EngineTest, LogprobsComeFromTheModelsLogitsWhateverTheSampling) {
  GenerationRequest plain = greedy(to_ids("Hello there"), 12);
  plain.logprobs = 4;
  const Outcome greedy_run = alone(plain);
  ASSERT_EQ(greedy_run.logprobs.size(), greedy_run.tokens.size());
  for (size_t i = 0; i < greedy_run.tokens.size(); ++i) {
    const TokenLogprobs& lp = greedy_run.logprobs[i];
    ASSERT_EQ(lp.top.size(), 4u);
    EXPECT_EQ(lp.top[0].token, greedy_run.tokens[i]) << "greedy picks the most likely token, " << i;
    EXPECT_EQ(lp.logprob, lp.top[0].logprob) << i;
    EXPECT_LE(lp.logprob, 0.0f);
    for (size_t k = 1; k < lp.top.size(); ++k) EXPECT_GE(lp.top[k - 1].logprob, lp.top[k].logprob) << i;
  }

  GenerationRequest hot = plain;
  hot.sampling.temperature = 1.7;
  hot.sampling.presence_penalty = 1.5;
  hot.sampling.repetition_penalty = 1.3;
  hot.sampling.seed = 11;
  const Outcome hot_run = alone(hot);
  ASSERT_FALSE(hot_run.logprobs.empty());
  EXPECT_EQ(hot_run.logprobs[0].top.front().token, greedy_run.logprobs[0].top.front().token);
  for (size_t k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(hot_run.logprobs[0].top[k].logprob, greedy_run.logprobs[0].top[k].logprob);
  EXPECT_EQ(hot_run.logprobs.size(), hot_run.tokens.size());
  GenerationRequest without = hot;
  without.logprobs.reset();
  EXPECT_EQ(alone(without).tokens, hot_run.tokens) << "asking for logprobs does not change the tokens";
  EXPECT_TRUE(alone(without).logprobs.empty());

  GenerationRequest looping = greedy(to_ids("Hello"), 30);
  looping.logprobs = 2;
  auto model = load(1);
  EngineLimits limits{1, 96, 8};
  limits.speculative_tokens = 4;
  Engine e(*model, &*tok_, limits, Speculation::ngram);
  const Outcome drafted = run(e, {looping}, {0})[0];
  ASSERT_GT(e.speculation_stats().accepted, 0u) << "no draft was accepted: the verified rows went untested";
  const Outcome solo = alone(looping);
  ASSERT_EQ(drafted.tokens, solo.tokens);
  ASSERT_EQ(drafted.logprobs.size(), solo.logprobs.size());
  for (size_t i = 0; i < solo.logprobs.size(); ++i) {
    EXPECT_NEAR(drafted.logprobs[i].logprob, solo.logprobs[i].logprob, 1e-4) << "token " << i;
    EXPECT_EQ(drafted.logprobs[i].top[1].token, solo.logprobs[i].top[1].token) << "token " << i;
  }
}

// ---- Speculative decoding with the MTP module ---------------------------------------------

// Speculation changes how many steps a sequence takes, never its tokens: greedy or sampled, with
// requests joining and leaving, every request gets exactly what the plain engine gives it alone.
class MtpSpeculation : public EngineTest {
 protected:
  SpeculationStats expect_plain_tokens(const std::filesystem::path& dir, int64_t prefill_chunk = 512,
                                       int64_t draft_tokens = 0) {
    std::vector<GenerationRequest> reqs = assorted_requests(8);
    for (size_t i = 0; i < reqs.size(); i += 3) {
      reqs[i].sampling.temperature = 0.8;  // a third sampled, seed for seed
      reqs[i].sampling.seed = 1000 + i;
    }
    reqs[1].max_new_tokens = 2;  // too short for a draft after the first token
    reqs[4].max_new_tokens = 40;
    auto model = load(3, /*mtp=*/true, dir);
    EngineLimits limits{3, 96, 16};
    limits.prefill_chunk = prefill_chunk;
    limits.speculative_tokens = draft_tokens;
    Engine e(*model, &*tok_, limits, Speculation::mtp);
    auto together = run(e, reqs, {0, 0, 0, 1, 2, 2, 5, 6});
    for (size_t i = 0; i < reqs.size(); ++i) {
      EXPECT_EQ(together[i].tokens, alone(reqs[i], dir).tokens) << "request " << i;
      EXPECT_EQ(together[i].reason, FinishReason::length);
    }
    const SpeculationStats stats = e.speculation_stats();
    std::printf("MTP drafts: %llu verified, %llu accepted, in %llu decode steps\n",
                static_cast<unsigned long long>(stats.drafted), static_cast<unsigned long long>(stats.accepted),
                static_cast<unsigned long long>(stats.steps));
    // Every decode step of a sequence with two or more tokens still to come verifies a draft.
    EXPECT_GT(stats.drafted, 0u);
    return stats;
  }
};

// The demo model's MTP module has random weights: its drafts are (nearly) all rejected, and the
// output is still the plain engine's.
TEST_F(MtpSpeculation, RejectedDraftsLeaveTheTokensAsTheyWere) { expect_plain_tokens(model_dir_); }

// A --markov model's MTP module mostly agrees with the main model: steps that accept a draft emit
// two tokens (and feed the MTP module two rows), and the output is still the plain engine's.
TEST_F(MtpSpeculation, AcceptedDraftsGiveTheSameTokensInFewerSteps) {
  const SpeculationStats stats = expect_plain_tokens(markov_dir_);
  EXPECT_GT(stats.accepted, stats.drafted / 2);
  EXPECT_LT(stats.accepted, stats.drafted);  // some rejected too: both paths ran
}

// Deeper drafts: the module fed its own hidden state and draft, three drafts a step. Steps that
// accept all three emit four tokens; the output is still the plain engine's, and a --markov
// model's chained drafts are still mostly right (each predicts the token after the one before).
TEST_F(MtpSpeculation, ChainedDraftsGiveTheSameTokensInFewerSteps) {
  const SpeculationStats one = expect_plain_tokens(markov_dir_);
  const SpeculationStats three = expect_plain_tokens(markov_dir_, 512, /*draft_tokens=*/3);
  EXPECT_GT(three.drafted, three.steps * 3 / 2) << "the steps verified more than one draft each";
  EXPECT_GT(three.accepted, three.drafted / 2);
  EXPECT_LT(three.steps, one.steps) << "accepted chains saved steps";
}

TEST_F(MtpSpeculation, ChainedDraftsOnTheRandomModelToo) { expect_plain_tokens(model_dir_, 512, /*draft_tokens=*/4); }

// Chained drafts with prompts prefilled a few tokens per step: the MTP cache entries the deeper
// rows wrote past the known tokens are overwritten before they are read.
TEST_F(MtpSpeculation, ChainedDraftsWithChunkedPrefill) {
  const SpeculationStats stats = expect_plain_tokens(markov_dir_, /*prefill_chunk=*/5, /*draft_tokens=*/3);
  EXPECT_GT(stats.accepted, stats.drafted / 2);
}

// The same on the cpu and cuda backends: a step with two rows per sequence (a token and its
// draft) runs the kernels at other batch sizes than a plain step, and must still give the plain
// engine's tokens. Skips when the backend is not in this build or cannot run here.
TEST_F(MtpSpeculation, OnTheCpuBackendToo) {
  if (const std::string why = use_only("cpu"); !why.empty()) GTEST_SKIP() << why;
  const SpeculationStats stats = expect_plain_tokens(markov_dir_);
  EXPECT_GT(stats.accepted, stats.drafted / 2);
  const SpeculationStats chained = expect_plain_tokens(markov_dir_, 512, /*draft_tokens=*/3);
  EXPECT_GT(chained.accepted, chained.drafted / 2);
}

TEST_F(MtpSpeculation, OnTheCudaBackendToo) {
  if (const std::string why = use_only("cuda"); !why.empty()) GTEST_SKIP() << why;
  const SpeculationStats stats = expect_plain_tokens(markov_dir_);
  EXPECT_GT(stats.accepted, stats.drafted / 2);
  const SpeculationStats chained = expect_plain_tokens(markov_dir_, 512, /*draft_tokens=*/3);
  EXPECT_GT(chained.accepted, chained.drafted / 2);
}

// The CUDA backend's code on the GPU simulator (tests/gpusim), which runs here: continuous
// batching and graph replay over changing batches, one- and two-row steps, prefix reuse.
TEST_F(MtpSpeculation, OnTheGpuSimulatorToo) {
  if (const std::string why = use_only("gpusim32"); !why.empty()) GTEST_SKIP() << why;
  const SpeculationStats stats = expect_plain_tokens(markov_dir_);
  EXPECT_GT(stats.accepted, stats.drafted / 2);
  const SpeculationStats chained = expect_plain_tokens(markov_dir_, 512, /*draft_tokens=*/3);
  EXPECT_GT(chained.accepted, chained.drafted / 2);
}

// Prompts prefilled a few tokens per step feed the MTP module chunk by chunk: the same tokens,
// and its drafts as good as with whole prompts (its cache holds every prompt position).
TEST_F(MtpSpeculation, ChunkedPrefillFillsTheMtpCacheToo) {
  const SpeculationStats stats = expect_plain_tokens(markov_dir_, /*prefill_chunk=*/5);
  EXPECT_GT(stats.accepted, stats.drafted / 2);
}

// speculative_max_batch = 1: a sequence drafts while it runs alone, stops for good when others
// join (its MTP cache would miss the steps without drafts), and a later request alone drafts again.
TEST_F(MtpSpeculation, DraftingStopsWhenTheBatchOutgrowsTheLimit) {
  auto model = load(3, /*mtp=*/true, markov_dir_);
  EngineLimits limits{3, 96, 16};
  limits.speculative_max_batch = 1;
  Engine e(*model, &*tok_, limits, Speculation::mtp);
  const std::vector<GenerationRequest> reqs = {greedy({10, 11, 12}, 30), greedy({20, 21}, 8), greedy({30, 31, 32, 33}, 8),
                                               greedy({40, 41}, 12)};
  std::vector<Outcome> out(reqs.size());
  auto submit = [&](size_t i) {
    e.submit(reqs[i], [&, i](const TokenEvent& ev) {
      if (ev.token) out[i].tokens.push_back(*ev.token);
    });
  };
  auto run_until_idle = [&] {
    for (int step = 0; e.step(); ++step) ASSERT_LT(step, 1000);
  };
  submit(0);
  for (int step = 0; step < 4; ++step) e.step();
  const uint64_t alone_drafts = e.speculation_stats().drafted;
  EXPECT_GT(alone_drafts, 0u);
  submit(1);
  submit(2);
  run_until_idle();
  EXPECT_EQ(e.speculation_stats().drafted, alone_drafts);  // none verified once three ran
  submit(3);
  run_until_idle();
  EXPECT_GT(e.speculation_stats().drafted, alone_drafts);  // the next one alone drafts again
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(out[i].tokens, alone(reqs[i], markov_dir_).tokens) << "request " << i;
}

// Stop conditions hold inside a step that emits two tokens: a stop string or the length limit
// met by the first token ends the request there.
TEST_F(MtpSpeculation, StopStringsStillEndTheText) {
  GenerationRequest r = greedy(to_ids("Hello"), 24);
  Outcome full = alone(r);
  ASSERT_GE(full.text.size(), 12u);
  r.stop_strings = {full.text.substr(7, 2)};
  auto model = load(1, /*mtp=*/true);
  Engine e(*model, &*tok_, {1, 96, 8}, Speculation::mtp);
  Outcome cut = run(e, {r}, {0})[0];
  EXPECT_EQ(cut.reason, FinishReason::stop);
  EXPECT_EQ(cut.text, full.text.substr(0, full.text.find(r.stop_strings[0])));
}

TEST_F(MtpSpeculation, NeedsTheMtpModule) {
  auto model = load(1);
  try {
    Engine e(*model, &*tok_, {1, 96, 8}, Speculation::mtp);
    FAIL() << "expected failed_precondition";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::failed_precondition);
    EXPECT_NE(std::string(err.what()).find("MTP"), std::string::npos);
  }
}

TEST_F(EngineTest, CancelFreesTheSlot) {
  auto model = load(1);
  Engine e(*model, &*tok_, {1, 96, 8});
  FinishReason reason = FinishReason::none;
  RequestId id = e.submit(greedy({1, 2, 3}, 50), [&](const TokenEvent& ev) {
    if (ev.finished) reason = ev.reason;
  });
  e.step();
  e.step();
  e.cancel(id);
  e.step();
  EXPECT_EQ(reason, FinishReason::cancelled);
  EXPECT_EQ(e.running(), 0u);
  EXPECT_EQ(run(e, {greedy({4, 5}, 2)}, {0})[0].tokens.size(), 2u);
}

}  // namespace
}  // namespace fathom::engine
