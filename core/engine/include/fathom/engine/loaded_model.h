// A model ready to run: config.json and weights loaded, graphs built for prefill (naive MLA),
// decode (absorbed MLA) and, when present, the MTP module; each placed on the configured
// backends and compiled. The graphs share the weights and the KV cache.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "fathom/core/config.h"
#include "fathom/core/plugin_host.h"
#include "fathom/graph/deepseek_builder.h"
#include "fathom/graph/executor.h"
#include "fathom/model/checkpoint.h"
#include "fathom/model/model_spec.h"

namespace fathom::engine {

struct ModelOptions {
  int64_t n_slots = 1;              // sequences held in the KV cache
  int64_t max_seq_len = 4096;       // positions per sequence
  int64_t max_step_tokens = 256;    // tokens per forward call; longer inputs run in chunks
  bool load_mtp = false;            // build the MTP graph too
  // Told about loading progress: a stage name and (done, total) within it.
  std::function<void(const std::string& stage, size_t done, size_t total)> progress;
};

enum class AttentionForm { naive, absorbed };

// Tokens of one forward call: token t belongs to sequence slots[t] at position positions[t].
struct TokenBatch {
  std::span<const int32_t> ids;
  std::span<const int32_t> positions;
  std::span<const int32_t> slots;
};

struct ForwardResult {
  std::vector<float> logits;  // [rows, vocab]: every token's, or those of the rows asked for
  std::vector<float> hidden;  // [T, hidden_size], after the final norm (the MTP's: shared_head.norm)
};

class LoadedModel {
 public:
  using NodeTime = graph::Executor::NodeTime;

  LoadedModel(const std::filesystem::path& model_dir, const Config& config, PluginHost& host, ModelOptions options);

  const model::ModelSpec& spec() const { return spec_; }
  const model::Checkpoint& checkpoint() const { return *checkpoint_; }
  const ModelOptions& options() const { return options_; }
  const graph::Graph& prefill_graph() const { return *prefill_graph_; }
  const graph::Placement& prefill_placement() const { return prefill_->placement(); }
  bool has_mtp() const { return mtp_ != nullptr; }
  // Bytes of the KV cache (every layer's, the MTP module's too when loaded), for all slots.
  uint64_t kv_cache_bytes() const;
  // The fallback chain it runs on (runtime.backends, or what "auto" picked).
  const std::vector<std::shared_ptr<BackendInstance>>& backends() const { return chain_; }

  // Runs the tokens through the model; the naive form suits long prompts, the absorbed form
  // decode steps. Both read and extend the same cache. `logit_rows` (indices into the batch, in
  // the order wanted) limits the logits to those rows; in the naive form the vocabulary product
  // then runs on those rows alone (a prompt needs only its last row's).
  ForwardResult forward(const TokenBatch& batch, AttentionForm form,
                        std::optional<std::span<const size_t>> logit_rows = std::nullopt);
  // MTP draft logits [T, vocab] (or of `logit_rows` only): row t pairs `hidden` row t (the main
  // model's, position p) with ids[t] (the token at p + 1), at positions[t] = p, and predicts the
  // token at p + 2. Each row also writes the MTP layer's cache at p, which later rows attend to.
  // The result's hidden is the module's own, after shared_head.norm: a deeper draft feeds it back
  // in with the token drafted from it (spec §3.6 step 4).
  ForwardResult mtp_forward(const TokenBatch& batch, std::span<const float> hidden,
                            AttentionForm form = AttentionForm::naive,
                            std::optional<std::span<const size_t>> logit_rows = std::nullopt);

  // Makes slot `to` hold the cache entries of slot `from`'s first `rows` positions (the MTP
  // layer's included), so that a prompt sharing that prefix skips it wherever it runs.
  void copy_cache_prefix(int32_t from, int32_t to, int64_t rows);

  // Time per (op, backend) over every forward so far (prefill, decode and MTP graphs together).
  std::vector<graph::Executor::OpTime> op_times() const;
  // Time per node, each node name prefixed with its graph ("decode:", "prefill:", "head:", "mtp:").
  std::vector<graph::Executor::NodeTime> node_times() const;

 private:
  graph::Executor make_executor(const graph::Graph& g, const std::string& stage);

  std::filesystem::path dir_;
  model::ModelSpec spec_;
  std::unique_ptr<model::Checkpoint> checkpoint_;
  ModelOptions options_;
  std::vector<std::shared_ptr<BackendInstance>> chain_;
  const Config& config_;
  graph::WeightStore weights_;
  graph::StatePool states_;
  // Runs `exe` over `n` rows in chunks of its max_tokens, with the token inputs when `tokens` is
  // set and `hidden` (n × hidden_size) when not empty; appends each named output's f32 rows.
  void run_chunked(graph::Executor& exe, size_t n, const TokenBatch* tokens, std::span<const float> hidden,
                   std::initializer_list<std::pair<const char*, std::vector<float>*>> outputs);
  // `head` (the main or the MTP head graph) on `hidden`'s rows `rows`, or on all of them.
  std::vector<float> head_logits(graph::Executor& head, const char* output, std::span<const float> hidden,
                                 std::optional<std::span<const size_t>> rows);
  static void check_rows(size_t n, std::optional<std::span<const size_t>> rows);
  // The executors built, each with the name of its graph ("prefill", "head", "decode", "mtp").
  std::vector<std::pair<const char*, const graph::Executor*>> executors() const;

  // The prefill graph stops at `hidden`; `head_graph_` (lm_head alone) then runs on the rows whose
  // logits are wanted. The decode graph keeps its head: every row of a decode step needs logits.
  // The MTP module is split the same way, with a decode (absorbed) body besides: mtp_ runs over
  // prompts, mtp_decode_ over the tokens of decode steps.
  std::unique_ptr<graph::Graph> prefill_graph_, head_graph_, decode_graph_, mtp_graph_, mtp_decode_graph_, mtp_head_graph_;
  std::unique_ptr<graph::Executor> prefill_, head_, decode_, mtp_, mtp_decode_, mtp_head_;
};

}  // namespace fathom::engine
