#include "golden_support.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <span>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"

namespace fathom::engine::golden {

std::string fixture_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

std::vector<Sequence> load_golden(const std::string& fixture, const std::string& file) {
  std::ifstream in(std::string(FATHOM_FIXTURES_DIR) + "/" + fixture + "/" + file);
  if (!in) throw std::runtime_error("missing " + file + " for " + fixture);
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

namespace {

size_t argmax(std::span<const float> row) {
  return static_cast<size_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

// How far transformers' best logit leads the runner-up.
double lead(const std::vector<float>& row, size_t best) {
  double runner_up = -INFINITY;
  for (size_t v = 0; v < row.size(); ++v) {
    if (v != best) runner_up = std::max(runner_up, static_cast<double>(row[v]));
  }
  return row[best] - runner_up;
}

}  // namespace

::testing::AssertionResult matches(const std::vector<float>& got, const std::vector<std::vector<float>>& want,
                                   Tolerance tolerance, const std::string& what) {
  const size_t vocab = want.at(0).size();
  if (got.size() != want.size() * vocab) {
    return ::testing::AssertionFailure() << what << ": " << got.size() << " logits, expected " << want.size() * vocab;
  }
  double max_ref = 0, max_diff = 0;
  for (const auto& row : want) {
    for (float v : row) max_ref = std::max(max_ref, std::fabs(static_cast<double>(v)));
  }
  const double allowed = tolerance.relative * max_ref;
  size_t argmax_mismatch = 0;
  std::vector<double> position_diff(want.size(), 0.0);
  for (size_t t = 0; t < want.size(); ++t) {
    const std::span<const float> row(got.data() + t * vocab, vocab);
    for (size_t v = 0; v < vocab; ++v)
      position_diff[t] = std::max(position_diff[t], std::fabs(static_cast<double>(row[v]) - want[t][v]));
    max_diff = std::max(max_diff, position_diff[t]);
    const size_t best_want = argmax(want[t]);
    if (argmax(row) == best_want || tolerance.argmax == Argmax::not_checked) continue;
    if (tolerance.argmax == Argmax::every_position || lead(want[t], best_want) > 2 * allowed) ++argmax_mismatch;
  }
  std::sort(position_diff.begin(), position_diff.end());
  const double median_diff = position_diff[position_diff.size() / 2];
  std::printf("[golden] %s: max |Δ| / max |logit| = %.3g (median over positions %.3g)\n", what.c_str(),
              max_diff / std::max(max_ref, 1e-30), median_diff / std::max(max_ref, 1e-30));
  const double bounded = tolerance.over == Over::every_position ? max_diff : median_diff;
  if (bounded <= allowed && argmax_mismatch == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << (tolerance.over == Over::every_position ? "max" : "median")
                                       << " |Δ| = " << bounded << " (allowed " << allowed << "), argmax differs at "
                                       << argmax_mismatch << " positions";
}

namespace {

struct Positions {
  std::vector<int32_t> pos, slots;
  explicit Positions(size_t n) : pos(n), slots(n, 0) { std::iota(pos.begin(), pos.end(), 0); }
};

}  // namespace

std::vector<float> prefill_logits(LoadedModel& model, const Sequence& s) {
  Positions p(s.ids.size());
  return model.forward({s.ids, p.pos, p.slots}, AttentionForm::naive).logits;
}

std::vector<size_t> chosen_rows(const Sequence& s) {
  const size_t last = s.ids.size() - 1;
  return {last, 0, last / 2, last};  // out of order, and one row twice
}

std::vector<std::vector<float>> rows_of(const std::vector<std::vector<float>>& all, const std::vector<size_t>& rows) {
  std::vector<std::vector<float>> picked;
  for (size_t r : rows) picked.push_back(all[r]);
  return picked;
}

std::vector<float> chosen_rows_logits(LoadedModel& model, const Sequence& s, AttentionForm form) {
  Positions p(s.ids.size());
  const std::vector<size_t> rows = chosen_rows(s);
  if (form == AttentionForm::naive) return model.forward({s.ids, p.pos, p.slots}, form, rows).logits;
  std::vector<float> out;  // one decode step per token, keeping the chosen rows' logits
  std::vector<std::vector<float>> steps;
  const size_t vocab = static_cast<size_t>(model.spec().vocab_size);
  for (size_t t = 0; t < s.ids.size(); ++t) {
    const size_t only = 0;
    auto r = model.forward({std::span(s.ids).subspan(t, 1), std::span(p.pos).subspan(t, 1), std::span(p.slots).subspan(t, 1)},
                           form, std::span(&only, 1));
    steps.push_back(r.logits);
  }
  for (size_t r : rows) out.insert(out.end(), steps[r].begin(), steps[r].begin() + static_cast<ptrdiff_t>(vocab));
  return out;
}

std::vector<float> decode_logits(LoadedModel& model, const Sequence& s) {
  std::vector<float> rows;
  for (size_t t = 0; t < s.ids.size(); ++t) {
    int32_t pos = static_cast<int32_t>(t), slot = 0;
    auto r = model.forward({std::span(s.ids).subspan(t, 1), std::span(&pos, 1), std::span(&slot, 1)},
                           AttentionForm::absorbed);
    rows.insert(rows.end(), r.logits.begin(), r.logits.end());
  }
  return rows;
}

std::vector<float> chunked_prefill_logits(LoadedModel& model, const Sequence& s) {
  Positions p(s.ids.size());
  const size_t split = s.ids.size() / 3;
  auto a = model.forward({std::span(s.ids).first(split), std::span(p.pos).first(split), std::span(p.slots).first(split)},
                         AttentionForm::naive);
  auto b = model.forward(
      {std::span(s.ids).subspan(split), std::span(p.pos).subspan(split), std::span(p.slots).subspan(split)},
      AttentionForm::naive);
  a.logits.insert(a.logits.end(), b.logits.begin(), b.logits.end());
  return a.logits;
}

std::vector<float> mtp_logits(LoadedModel& model, const Sequence& s, AttentionForm form) {
  Positions p(s.ids.size());
  auto main = model.forward({s.ids, p.pos, p.slots}, AttentionForm::naive);
  // The MTP head predicts token t+2 from the main model's hidden state at t and the embedding of
  // token t+1, so it sees every position but the last.
  const size_t rows = s.ids.size() - 1, d = static_cast<size_t>(model.spec().hidden_size);
  const std::span<const int32_t> next = std::span(s.ids).subspan(1);
  if (form == AttentionForm::naive) {
    return model.mtp_forward({next, std::span(p.pos).first(rows), std::span(p.slots).first(rows)},
                             std::span(main.hidden).first(rows * d))
        .logits;
  }
  // As speculative decoding drafts: one row per step, each attending to the MTP cache the
  // earlier rows wrote, with the head run on the row asked for.
  std::vector<float> out;
  for (size_t t = 0; t < rows; ++t) {
    const size_t only = 0;
    auto step = model.mtp_forward({next.subspan(t, 1), std::span(p.pos).subspan(t, 1), std::span(p.slots).subspan(t, 1)},
                                  std::span(main.hidden).subspan(t * d, d), form, std::span(&only, 1));
    out.insert(out.end(), step.logits.begin(), step.logits.end());
  }
  return out;
}

std::string backend_unavailable(const std::string& backend) {
  // Asked before configuring the backend: a [backend.x] table for a plugin the build lacks is a
  // configuration error.
  Config probe = default_config();
  probe.runtime.plugin_path = {FATHOM_PLUGIN_DIR, FATHOM_GPUSIM_DIR};
  PluginHost host(probe);
  try {
    host.backend(backend);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void GoldenTest::use_deployment(const std::string& toml) {
  config_ = parse_config(toml, "golden.toml");
  config_.runtime.plugin_path = {FATHOM_PLUGIN_DIR, FATHOM_GPUSIM_DIR};
  host_ = std::make_unique<PluginHost>(config_);
}

std::unique_ptr<LoadedModel> GoldenTest::load(bool mtp) {
  ModelOptions o;
  o.max_seq_len = 64;
  o.load_mtp = mtp;
  return std::make_unique<LoadedModel>(std::string(FATHOM_FIXTURES_DIR) + "/" + GetParam(), config_, *host_, o);
}

void GoldenTest::expect_prefill_matches(LoadedModel& model, Tolerance tolerance, const std::string& label,
                                        size_t max_tokens) {
  for (const Sequence& s : load_golden(GetParam(), golden_file_)) {
    if (s.ids.size() > max_tokens) continue;
    EXPECT_TRUE(matches(prefill_logits(model, s), s.logits, tolerance,
                        GetParam() + " " + label + " " + std::to_string(s.ids.size()) + " tokens"));
  }
}

void GoldenTest::expect_chosen_rows_match(LoadedModel& model, AttentionForm form, Tolerance tolerance,
                                          const std::string& label) {
  for (const Sequence& s : load_golden(GetParam(), golden_file_)) {
    EXPECT_TRUE(matches(chosen_rows_logits(model, s, form), rows_of(s.logits, chosen_rows(s)), tolerance,
                        GetParam() + " " + label + " " + std::to_string(s.ids.size()) + " tokens"));
  }
}

void GoldenTest::expect_decode_matches(LoadedModel& model, Tolerance tolerance, const std::string& label) {
  for (const Sequence& s : load_golden(GetParam(), golden_file_)) {
    EXPECT_TRUE(matches(decode_logits(model, s), s.logits, tolerance,
                        GetParam() + " " + label + " " + std::to_string(s.ids.size()) + " tokens"));
  }
}

void GoldenTest::expect_chunked_prefill_matches(LoadedModel& model, Tolerance tolerance, const std::string& label) {
  const Sequence s = load_golden(GetParam(), golden_file_).back();
  EXPECT_TRUE(matches(chunked_prefill_logits(model, s), s.logits, tolerance,
                      GetParam() + " " + label + " " + std::to_string(s.ids.size()) + " tokens"));
}

void GoldenTest::expect_mtp_matches(LoadedModel& model, Tolerance tolerance, const std::string& label, AttentionForm form) {
  for (const Sequence& s : load_golden(GetParam(), golden_file_)) {
    EXPECT_TRUE(matches(mtp_logits(model, s, form), s.mtp_logits, tolerance,
                        GetParam() + " " + label + " " + std::to_string(s.ids.size()) + " tokens"));
  }
}

void GoldenTest::expect_bf16_cache_stays_close(const std::string& deployment, const std::string& label) {
  ASSERT_EQ(deployment.rfind("[runtime]\n", 0), 0u) << "the deployment must start with its [runtime] table";
  use_deployment("[runtime]\nkv_cache_dtype = \"bf16\"\n" + deployment.substr(std::string("[runtime]\n").size()));
  ASSERT_EQ(config_.runtime.kv_cache_dtype, DType::bf16);
  auto model = load();
  size_t caches = 0;
  for (const graph::Tensor& t : model->prefill_graph().tensors()) {
    if (t.kind != graph::TensorKind::state) continue;
    ++caches;
    EXPECT_EQ(t.desc.dtype, FATHOM_DTYPE_BF16) << t.name << " should be a bf16 cache";
  }
  EXPECT_GT(caches, 0u);
  expect_prefill_matches(*model, kBf16Cache, label + " prefill");
  expect_decode_matches(*model, kBf16Cache, label + " decode");
  expect_chunked_prefill_matches(*model, kBf16Cache, label + " chunked prefill");
  if (load_golden(GetParam(), golden_file_).front().mtp_logits.empty()) return;
  expect_mtp_matches(*load(true), kBf16Cache, label + " mtp decode", AttentionForm::absorbed);
}

}  // namespace fathom::engine::golden
