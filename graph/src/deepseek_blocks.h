// The building blocks of the DeepSeek graph, one method per sub-module of spec §2. Internal to
// the builder.
#pragma once

#include <string>

#include "fathom/graph/deepseek_builder.h"

namespace fathom::graph::detail {

class DeepSeekBlocks {
 public:
  DeepSeekBlocks(Graph& g, const model::ModelSpec& spec, const model::Checkpoint& weights, const BuildOptions& options,
                 TensorId positions, TensorId slots);

  // y = x · Wᵀ for the checkpoint tensor `<prefix>.weight` (with its block scales when FP8).
  TensorId linear(TensorId x, const std::string& prefix, const std::string& node_name);
  TensorId rms_norm(TensorId x, const std::string& weight_name, const std::string& node_name);
  TensorId embedding(TensorId ids, const std::string& table_name, const std::string& node_name);
  TensorId add(TensorId a, TensorId b, const std::string& node_name);

  // One decoder layer: h + attn(norm(h)), then + ffn(norm(h)). `layer` indexes the checkpoint
  // (the MTP block is layer num_hidden_layers).
  TensorId decoder_layer(TensorId h, int64_t layer);

 private:
  TensorId attention(TensorId x, int64_t layer, const std::string& p);
  TensorId dense_mlp(TensorId x, const std::string& p, const std::string& node_prefix);
  TensorId moe(TensorId x, int64_t layer, const std::string& p);
  TensorId rope(TensorId x, int64_t head_dim, int64_t offset, const std::string& node_name);
  // Appends `<prefix>.weight` (and its scale) to `inputs`.
  void add_weight_inputs(std::vector<TensorId>& inputs, const std::string& prefix);
  int64_t width(TensorId t) const { return g_.tensor(t).desc.shape[1]; }

  Graph& g_;
  const model::ModelSpec& spec_;
  const model::Checkpoint& weights_;
  const BuildOptions& options_;
  TensorId positions_, slots_;
};

fathom_tensor_desc activation(int64_t width, uint32_t dtype = FATHOM_DTYPE_F32);

}  // namespace fathom::graph::detail
