// What every golden test needs: the fixtures' expected logits (golden.json, written by
// tools/reference/make_fixtures.py from Hugging Face transformers), the comparison, the four ways
// of running a sequence through a model, and a fixture that loads a model under a deployment.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fathom/core/config.h"
#include "fathom/core/plugin_host.h"
#include "fathom/engine/loaded_model.h"

namespace fathom::engine::golden {

// The checkpoints under tests/fixtures that have a golden.json.
inline const std::vector<std::string> kFixtures = {"deepseek-v3-tiny", "deepseek-v2-lite-tiny",
                                                   "deepseek-v3-tiny-fp8", "deepseek-v3-tiny-sharded"};

// gtest parameter names: the fixture name with every non-alphanumeric character as '_'.
std::string fixture_test_name(const ::testing::TestParamInfo<std::string>& info);

struct Sequence {
  std::vector<int32_t> ids;
  std::vector<std::vector<float>> logits, mtp_logits;  // [position][vocab]
};

// `file`: golden.json, or another set of expected logits beside it (golden-int8.json, ...).
std::vector<Sequence> load_golden(const std::string& fixture, const std::string& file = "golden.json");

// How the argmax must agree with transformers'.
enum class Argmax {
  every_position,  // the same best token everywhere (f32 arithmetic)
  clear_leads,     // where transformers' best leads its runner-up by more than twice the allowed
                   // error; a closer tie may legitimately swap under bf16 rounding
  not_checked,     // a loose bound that only catches gross errors
};

// Which positions the bound holds for.
enum class Over {
  every_position,   // the largest |Δlogit| of any position
  median_position,  // the median over positions of each one's largest |Δlogit|: reduced-precision
                    // paths, where a near-tie in a tiny random model's expert routing flips and
                    // moves a few positions' logits far; a wrong layout moves them all
};

struct Tolerance {
  double relative;  // max |Δlogit| allowed, as a fraction of max |logit|
  Argmax argmax;
  Over over = Over::every_position;
};

// A bf16 KV cache (runtime.kv_cache_dtype = "bf16") rounds every cached latent and k_pe entry
// once to bf16 (2^-9 relative), and nothing else. Measured on the reference backend, the median
// position is off by 0.15-0.7 % of the largest logit (prefill, decode, MTP decode steps); single
// positions by up to 2.5 %, and on V2-Lite's 40-token prompt one by 4.8 %, where the router's
// choice between nearly tied experts flips. So the bound is on the median position, 2^-6, and a
// cache entry written to the wrong place, or read with the wrong element size, moves every
// position by the logits' own size.
inline constexpr Tolerance kBf16Cache{1.0 / 64, Argmax::clear_leads, Over::median_position};

// Compares got ([position × vocab], row-major) with want; prints the measured relative error so
// that logs show how far inside the tolerance a backend is.
::testing::AssertionResult matches(const std::vector<float>& got, const std::vector<std::vector<float>>& want,
                                   Tolerance tolerance, const std::string& what);

// One sequence through the model, each way the engine can run it; all return its logits rows.
std::vector<float> prefill_logits(LoadedModel& model, const Sequence& s);
// Logits of the rows {last, 0, middle, last} only (forward's logit_rows), in that order; `want`'s
// rows in the same order come from rows_of(s.logits, chosen_rows(s)).
std::vector<size_t> chosen_rows(const Sequence& s);
std::vector<std::vector<float>> rows_of(const std::vector<std::vector<float>>& all, const std::vector<size_t>& rows);
std::vector<float> chosen_rows_logits(LoadedModel& model, const Sequence& s, AttentionForm form);
std::vector<float> decode_logits(LoadedModel& model, const Sequence& s);          // one token at a time
std::vector<float> chunked_prefill_logits(LoadedModel& model, const Sequence& s);  // a third, then the rest
// The MTP head after a prefill: all rows at once (naive), or one decode step per row (absorbed).
std::vector<float> mtp_logits(LoadedModel& model, const Sequence& s, AttentionForm form = AttentionForm::naive);

// The reason a backend cannot run in this build (not built, or its probe refuses); empty if it can.
std::string backend_unavailable(const std::string& backend);

// A test over the fixtures (the parameter), with a model loaded under a deployment given as
// TOML text.
class GoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void use_deployment(const std::string& toml);
  std::unique_ptr<LoadedModel> load(bool mtp = false);

  // Every sequence of the fixture by prefill (optionally only those up to max_tokens long).
  void expect_prefill_matches(LoadedModel& model, Tolerance tolerance, const std::string& label,
                              size_t max_tokens = SIZE_MAX);
  void expect_decode_matches(LoadedModel& model, Tolerance tolerance, const std::string& label);
  // Prefill (or decode steps) asked for the logits of some rows only (chosen_rows).
  void expect_chosen_rows_match(LoadedModel& model, AttentionForm form, Tolerance tolerance, const std::string& label);
  void expect_chunked_prefill_matches(LoadedModel& model, Tolerance tolerance, const std::string& label);
  void expect_mtp_matches(LoadedModel& model, Tolerance tolerance, const std::string& label,
                          AttentionForm form = AttentionForm::naive);
  // Under `deployment` (TOML text; this adds kv_cache_dtype = "bf16" to its [runtime] table, which
  // must come first): prefill, decode through the cache, chunked prefill and the MTP decode steps
  // within kBf16Cache.
  void expect_bf16_cache_stays_close(const std::string& deployment, const std::string& label);

  Config config_;
  std::unique_ptr<PluginHost> host_;
  std::string golden_file_ = "golden.json";  // what the expect_* functions compare with
};

}  // namespace fathom::engine::golden
