#include "fathom/engine/loaded_model.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string>

#include "fathom/core/error.h"
#include "fathom/core/logging.h"
#include "fathom/graph/export.h"
#include "fathom/graph/placement.h"
#include "fathom/model/validate_checkpoint.h"

namespace fathom::engine {

namespace {

template <typename T>
graph::HostTensorIn host_in(std::span<const T> v) {
  return graph::HostTensorIn{v.data(), v.size_bytes()};
}

// Rows `rows` (in that order) of a row-major matrix of `width` columns.
std::vector<float> pick_rows(std::span<const float> all, size_t width, std::span<const size_t> rows) {
  std::vector<float> out(rows.size() * width);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy_n(all.begin() + static_cast<ptrdiff_t>(rows[i] * width), width, out.begin() + static_cast<ptrdiff_t>(i * width));
  }
  return out;
}

void append_floats(const std::vector<std::byte>& bytes, std::vector<float>& out) {
  const size_t old = out.size();
  out.resize(old + bytes.size() / sizeof(float));
  std::memcpy(out.data() + old, bytes.data(), (out.size() - old) * sizeof(float));
}

}  // namespace

LoadedModel::LoadedModel(const std::filesystem::path& model_dir, const Config& config, PluginHost& host,
                         ModelOptions options)
    : dir_(model_dir), options_(options), config_(config) {
  auto report = [&](const std::string& stage, size_t done, size_t total) {
    if (options_.progress) options_.progress(stage, done, total);
  };
  report("reading config.json and mapping weights", 0, 1);
  spec_ = model::load_model_spec(model_dir);
  checkpoint_ = std::make_unique<model::Checkpoint>(model::Checkpoint::open(model_dir));
  model::validate_checkpoint(spec_, *checkpoint_);
  report("reading config.json and mapping weights", 1, 1);
  report("loading backends", 0, 1);
  chain_ = host.backend_chain();
  // Named in the progress output: under runtime.backends = ["auto"] this is where users see the
  // chain picked for this machine.
  report("backends: " + backend_names(chain_), 1, 1);

  graph::BuildOptions build{false, options_.n_slots, options_.max_seq_len, FATHOM_DTYPE_F32};
  build.cache_dtype = static_cast<uint32_t>(config.runtime.kv_cache_dtype);
  build.lm_head = false;
  prefill_graph_ = std::make_unique<graph::Graph>(graph::build_deepseek(spec_, *checkpoint_, build));
  head_graph_ = std::make_unique<graph::Graph>(graph::build_deepseek_head(spec_, *checkpoint_, build));
  build.absorbed_attention = true;
  build.lm_head = true;
  decode_graph_ = std::make_unique<graph::Graph>(graph::build_deepseek(spec_, *checkpoint_, build));
  prefill_ = std::make_unique<graph::Executor>(make_executor(*prefill_graph_, "placing weights (prefill graph)"));
  head_ = std::make_unique<graph::Executor>(make_executor(*head_graph_, "compiling the head graph"));
  decode_ = std::make_unique<graph::Executor>(make_executor(*decode_graph_, "compiling the decode graph"));
  log().info("placement: {}", graph::placement_summary(*prefill_graph_, prefill_->placement()));
  if (options_.load_mtp) {
    // Like the main model: a naive-form body for prompts, an absorbed-form body for decode steps
    // (both ending at `mtp_hidden` and sharing the MTP layer's cache), and the head on its own.
    const graph::MtpSources sources = graph::resolve_mtp_sources(spec_, *checkpoint_);
    build.lm_head = false;
    build.absorbed_attention = false;
    mtp_graph_ = std::make_unique<graph::Graph>(graph::build_deepseek_mtp(spec_, *checkpoint_, build, sources));
    build.absorbed_attention = true;
    mtp_decode_graph_ = std::make_unique<graph::Graph>(graph::build_deepseek_mtp(spec_, *checkpoint_, build, sources));
    mtp_head_graph_ =
        std::make_unique<graph::Graph>(graph::build_deepseek_mtp_head(spec_, *checkpoint_, build, sources));
    mtp_ = std::make_unique<graph::Executor>(make_executor(*mtp_graph_, "compiling the MTP graph"));
    mtp_decode_ = std::make_unique<graph::Executor>(make_executor(*mtp_decode_graph_, "compiling the MTP decode graph"));
    mtp_head_ = std::make_unique<graph::Executor>(make_executor(*mtp_head_graph_, "compiling the MTP head graph"));
  }
}

uint64_t LoadedModel::kv_cache_bytes() const {
  // The decode graphs share these state tensors by name with the prefill graphs.
  uint64_t bytes = graph::graph_stats(*prefill_graph_).state_bytes;
  if (mtp_graph_) bytes += graph::graph_stats(*mtp_graph_).state_bytes;
  return bytes;
}

graph::Executor LoadedModel::make_executor(const graph::Graph& g, const std::string& stage) {
  auto on_segment = [&](size_t done, size_t total) {
    if (options_.progress) options_.progress(stage, done, total);
  };
  return graph::Executor(g, graph::place(g, chain_, config_.placement), weights_, states_, options_.max_step_tokens,
                         on_segment);
}

std::vector<std::pair<const char*, const graph::Executor*>> LoadedModel::executors() const {
  std::vector<std::pair<const char*, const graph::Executor*>> out;
  for (const auto& [name, e] : {std::pair<const char*, const graph::Executor*>{"prefill", prefill_.get()},
                                {"head", head_.get()}, {"decode", decode_.get()}, {"mtp", mtp_.get()},
                                {"mtp-decode", mtp_decode_.get()}, {"mtp-head", mtp_head_.get()}}) {
    if (e) out.emplace_back(name, e);
  }
  return out;
}

std::vector<graph::Executor::OpTime> LoadedModel::op_times() const {
  std::vector<graph::Executor::OpTime> all;
  for (const auto& [name, e] : executors()) {
    for (const auto& t : e->op_times()) all.push_back(t);
  }
  return graph::Executor::sum_by_op(all);
}

void LoadedModel::run_chunked(graph::Executor& exe, size_t n, const TokenBatch* tokens, std::span<const float> hidden,
                              std::initializer_list<std::pair<const char*, std::vector<float>*>> outputs) {
  const size_t d = static_cast<size_t>(spec_.hidden_size);
  std::map<std::string, std::vector<std::byte>> results;
  for (size_t begin = 0; begin < n; begin += static_cast<size_t>(exe.max_tokens())) {
    const size_t count = std::min(n - begin, static_cast<size_t>(exe.max_tokens()));
    std::map<std::string, graph::HostTensorIn> inputs;
    if (tokens) {
      inputs.emplace("ids", host_in(tokens->ids.subspan(begin, count)));
      inputs.emplace("positions", host_in(tokens->positions.subspan(begin, count)));
      inputs.emplace("slots", host_in(tokens->slots.subspan(begin, count)));
    }
    if (!hidden.empty()) inputs.emplace("hidden", host_in(hidden.subspan(begin * d, count * d)));
    exe.run(inputs, static_cast<int64_t>(count), results);
    for (const auto& [name, dst] : outputs) append_floats(results.at(name), *dst);
  }
}

std::vector<float> LoadedModel::head_logits(graph::Executor& head, const char* output, std::span<const float> hidden,
                                             std::optional<std::span<const size_t>> rows) {
  std::vector<float> logits;
  if (!rows) {
    run_chunked(head, hidden.size() / static_cast<size_t>(spec_.hidden_size), nullptr, hidden, {{output, &logits}});
    return logits;
  }
  const std::vector<float> picked = pick_rows(hidden, static_cast<size_t>(spec_.hidden_size), *rows);
  run_chunked(head, rows->size(), nullptr, picked, {{output, &logits}});
  return logits;
}

void LoadedModel::check_rows(size_t n, std::optional<std::span<const size_t>> rows) {
  if (!rows) return;
  for (size_t r : *rows) {
    if (r >= n) throw invalid_argument("forward: logit row " + std::to_string(r) + " is outside the batch of " + std::to_string(n) + " tokens");
  }
}

std::vector<graph::Executor::NodeTime> LoadedModel::node_times() const {
  std::vector<graph::Executor::NodeTime> out;
  for (const auto& [name, e] : executors()) {
    for (auto t : e->node_times()) {
      t.node = std::string(name) + ":" + t.node;
      out.push_back(std::move(t));
    }
  }
  return out;
}

ForwardResult LoadedModel::forward(const TokenBatch& batch, AttentionForm form,
                                   std::optional<std::span<const size_t>> logit_rows) {
  const size_t n = batch.ids.size();
  if (batch.positions.size() != n || batch.slots.size() != n) throw invalid_argument("forward: ids, positions and slots differ in length");
  check_rows(n, logit_rows);
  ForwardResult result;
  if (form == AttentionForm::absorbed) {
    run_chunked(*decode_, n, &batch, {}, {{"logits", &result.logits}, {"hidden", &result.hidden}});
    if (logit_rows) result.logits = pick_rows(result.logits, static_cast<size_t>(spec_.vocab_size), *logit_rows);
    return result;
  }
  run_chunked(*prefill_, n, &batch, {}, {{"hidden", &result.hidden}});
  result.logits = head_logits(*head_, "logits", result.hidden, logit_rows);
  return result;
}

void LoadedModel::copy_cache_prefix(int32_t from, int32_t to, int64_t rows) {
  states_.copy_slot_prefix(options_.n_slots, options_.max_seq_len, from, to, rows);
}

ForwardResult LoadedModel::mtp_forward(const TokenBatch& batch, std::span<const float> hidden, AttentionForm form,
                                       std::optional<std::span<const size_t>> logit_rows) {
  if (!mtp_) throw Error(ErrorCode::failed_precondition, "the MTP module was not loaded");
  const size_t n = batch.ids.size();
  if (batch.positions.size() != n || batch.slots.size() != n) throw invalid_argument("mtp_forward: ids, positions and slots differ in length");
  if (hidden.size() != n * static_cast<size_t>(spec_.hidden_size)) throw invalid_argument("mtp_forward: hidden must hold one row per token");
  check_rows(n, logit_rows);
  ForwardResult result;
  run_chunked(form == AttentionForm::absorbed ? *mtp_decode_ : *mtp_, n, &batch, hidden, {{"mtp_hidden", &result.hidden}});
  result.logits = head_logits(*mtp_head_, "mtp_logits", result.hidden, logit_rows);
  return result;
}

}  // namespace fathom::engine
