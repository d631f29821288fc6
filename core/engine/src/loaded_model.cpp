#include "fathom/engine/loaded_model.h"

#include <cstring>

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

std::vector<float> as_floats(const std::vector<std::byte>& bytes) {
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
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
  report("loading backends", 1, 1);

  graph::BuildOptions build{false, options_.n_slots, options_.max_seq_len, FATHOM_DTYPE_F32};
  prefill_graph_ = std::make_unique<graph::Graph>(graph::build_deepseek(spec_, *checkpoint_, build));
  build.absorbed_attention = true;
  decode_graph_ = std::make_unique<graph::Graph>(graph::build_deepseek(spec_, *checkpoint_, build));
  prefill_ = std::make_unique<graph::Executor>(make_executor(*prefill_graph_, "placing weights (prefill graph)"));
  decode_ = std::make_unique<graph::Executor>(make_executor(*decode_graph_, "compiling the decode graph"));
  log().info("placement: {}", graph::placement_summary(*prefill_graph_, prefill_->placement()));
  if (options_.load_mtp) {
    build.absorbed_attention = false;
    mtp_graph_ = std::make_unique<graph::Graph>(graph::build_deepseek_mtp(spec_, *checkpoint_, build));
    mtp_ = std::make_unique<graph::Executor>(make_executor(*mtp_graph_, "compiling the MTP graph"));
  }
}

graph::Executor LoadedModel::make_executor(const graph::Graph& g, const std::string& stage) {
  auto on_segment = [&](size_t done, size_t total) {
    if (options_.progress) options_.progress(stage, done, total);
  };
  return graph::Executor(g, graph::place(g, chain_, config_.placement), weights_, states_, options_.max_step_tokens,
                         on_segment);
}

std::vector<graph::Executor::OpTime> LoadedModel::op_times() const {
  std::map<std::pair<std::string, std::string>, graph::Executor::OpTime> sum;
  for (const graph::Executor* e : {prefill_.get(), decode_.get(), mtp_.get()}) {
    if (!e) continue;
    for (const auto& t : e->op_times()) {
      auto& s = sum[{t.op, t.backend}];
      s.op = t.op;
      s.backend = t.backend;
      s.calls += t.calls;
      s.total_ms += t.total_ms;
    }
  }
  std::vector<graph::Executor::OpTime> out;
  for (auto& [k, v] : sum) out.push_back(v);
  return out;
}

ForwardResult LoadedModel::forward(const TokenBatch& batch, AttentionForm form) {
  const size_t n = batch.ids.size();
  if (batch.positions.size() != n || batch.slots.size() != n) throw invalid_argument("forward: ids, positions and slots differ in length");
  graph::Executor& exe = form == AttentionForm::naive ? *prefill_ : *decode_;
  ForwardResult result;
  std::map<std::string, std::vector<std::byte>> outputs;
  for (size_t begin = 0; begin < n; begin += static_cast<size_t>(exe.max_tokens())) {
    const size_t count = std::min(n - begin, static_cast<size_t>(exe.max_tokens()));
    std::map<std::string, graph::HostTensorIn> inputs{{"ids", host_in(batch.ids.subspan(begin, count))},
                                                      {"positions", host_in(batch.positions.subspan(begin, count))},
                                                      {"slots", host_in(batch.slots.subspan(begin, count))}};
    exe.run(inputs, static_cast<int64_t>(count), outputs);
    auto logits = as_floats(outputs["logits"]);
    auto hidden = as_floats(outputs["hidden"]);
    result.logits.insert(result.logits.end(), logits.begin(), logits.end());
    result.hidden.insert(result.hidden.end(), hidden.begin(), hidden.end());
  }
  return result;
}

std::vector<float> LoadedModel::mtp_forward(const TokenBatch& batch, std::span<const float> hidden) {
  if (!mtp_) throw Error(ErrorCode::failed_precondition, "the MTP module was not loaded");
  const size_t n = batch.ids.size();
  const size_t d = static_cast<size_t>(spec_.hidden_size);
  if (hidden.size() != n * d) throw invalid_argument("mtp_forward: hidden must hold one row per token");
  std::vector<float> logits;
  std::map<std::string, std::vector<std::byte>> outputs;
  for (size_t begin = 0; begin < n; begin += static_cast<size_t>(mtp_->max_tokens())) {
    const size_t count = std::min(n - begin, static_cast<size_t>(mtp_->max_tokens()));
    std::map<std::string, graph::HostTensorIn> inputs{{"ids", host_in(batch.ids.subspan(begin, count))},
                                                      {"positions", host_in(batch.positions.subspan(begin, count))},
                                                      {"slots", host_in(batch.slots.subspan(begin, count))},
                                                      {"hidden", host_in(hidden.subspan(begin * d, count * d))}};
    mtp_->run(inputs, static_cast<int64_t>(count), outputs);
    auto part = as_floats(outputs["mtp_logits"]);
    logits.insert(logits.end(), part.begin(), part.end());
  }
  return logits;
}

}  // namespace fathom::engine
