// The operator graph: nodes are ABI ops (plugin_api.h), edges are tensors. A graph is built once
// per model and entry point (prefill, decode, MTP) and never mutated after placement.
//
// Tensors are graph inputs (token ids, positions, slots), weights (views into the mapped
// checkpoint: no copy), state (the KV cache: persists across runs), or activations produced by
// exactly one node. The token dimension of activations is FATHOM_DIM_TOKENS; each run supplies
// the actual count.
#pragma once

#include <cstddef>
#include <cstring>
#include <cstdint>
#include <string>
#include <vector>

#include "fathom/model/tensor_view.h"
#include "fathom/plugin_api.h"

namespace fathom::graph {

using TensorId = uint32_t;
using NodeId = uint32_t;

enum class TensorKind { input, weight, state, activation };

struct Tensor {
  std::string name;
  fathom_tensor_desc desc{};
  TensorKind kind = TensorKind::activation;
  const model::TensorView* weight = nullptr;  // weights only: where the bytes are
  bool is_output = false;                     // read back by the caller after a run
  NodeId producer = UINT32_MAX;               // activations only
};

struct Node {
  uint32_t op = 0;
  std::string name;  // dotted like the checkpoint's tensor names: "layers.3.mlp.experts"
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  std::vector<std::byte> attrs;
};

class Graph {
 public:
  TensorId add_input(std::string name, fathom_tensor_desc desc);
  TensorId add_weight(std::string name, const model::TensorView& view, uint32_t layout = FATHOM_LAYOUT_DENSE);
  TensorId add_state(std::string name, fathom_tensor_desc desc);
  // Adds a node whose outputs are new activations with the given descs; returns their ids.
  std::vector<TensorId> add_node(uint32_t op, std::string name, std::vector<TensorId> inputs,
                                 std::vector<fathom_tensor_desc> outputs, std::vector<std::byte> attrs = {});
  // Marks an activation as a result the caller reads back, under `name` ("logits").
  void mark_output(TensorId id, std::string name);

  const std::vector<Tensor>& tensors() const { return tensors_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const Tensor& tensor(TensorId id) const { return tensors_.at(id); }
  const Node& node(NodeId id) const { return nodes_.at(id); }
  std::vector<TensorId> inputs() const;
  std::vector<TensorId> outputs() const;
  // The id of the tensor called `name`; throws not_found.
  TensorId find(const std::string& name) const;

  // The op descriptor of a node (valid while the graph and `storage` live).
  fathom_op_desc op_desc(NodeId id, std::vector<fathom_tensor_desc>& storage) const;

 private:
  TensorId add_tensor(Tensor t);
  std::vector<Tensor> tensors_;
  std::vector<Node> nodes_;
};

fathom_tensor_desc make_desc(uint32_t dtype, std::vector<int64_t> shape, uint32_t layout = FATHOM_LAYOUT_DENSE);

template <typename A>
std::vector<std::byte> attrs_bytes(const A& a) {
  std::vector<std::byte> b(sizeof a);
  std::memcpy(b.data(), &a, sizeof a);
  return b;
}

}  // namespace fathom::graph
