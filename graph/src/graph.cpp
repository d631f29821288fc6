#include "fathom/graph/graph.h"

#include "fathom/core/error.h"

namespace fathom::graph {

fathom_tensor_desc make_desc(uint32_t dtype, std::vector<int64_t> shape, uint32_t layout) {
  if (shape.size() > FATHOM_MAX_RANK) throw internal_error("make_desc: rank above FATHOM_MAX_RANK");
  fathom_tensor_desc d{};
  d.dtype = dtype;
  d.layout = layout;
  d.rank = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) d.shape[i] = shape[i];
  return d;
}

TensorId Graph::add_tensor(Tensor t) {
  tensors_.push_back(std::move(t));
  return static_cast<TensorId>(tensors_.size() - 1);
}

TensorId Graph::add_input(std::string name, fathom_tensor_desc desc) {
  return add_tensor(Tensor{std::move(name), desc, TensorKind::input, nullptr, false, UINT32_MAX});
}

TensorId Graph::add_weight(std::string name, const model::TensorView& view, uint32_t layout) {
  std::vector<int64_t> shape(view.shape.begin(), view.shape.end());
  // A weight in GGUF blocks says so itself (the checkpoint allows them only where ops take them).
  if (view.blocks != model::GgmlBlocks::none) layout = model::layout_of(view.blocks);
  return add_tensor(Tensor{std::move(name), make_desc(static_cast<uint32_t>(view.dtype), shape, layout),
                           TensorKind::weight, &view, false, UINT32_MAX});
}

TensorId Graph::add_state(std::string name, fathom_tensor_desc desc) {
  return add_tensor(Tensor{std::move(name), desc, TensorKind::state, nullptr, false, UINT32_MAX});
}

std::vector<TensorId> Graph::add_node(uint32_t op, std::string name, std::vector<TensorId> inputs,
                                      std::vector<fathom_tensor_desc> outputs, std::vector<std::byte> attrs) {
  for (TensorId id : inputs) {
    if (id >= tensors_.size()) throw internal_error("graph node '" + name + "' uses a tensor that does not exist");
  }
  const NodeId node_id = static_cast<NodeId>(nodes_.size());
  std::vector<TensorId> out_ids;
  for (size_t i = 0; i < outputs.size(); ++i) {
    std::string tname = outputs.size() == 1 ? name : name + ":" + std::to_string(i);
    out_ids.push_back(add_tensor(Tensor{tname, outputs[i], TensorKind::activation, nullptr, false, node_id}));
  }
  nodes_.push_back(Node{op, std::move(name), std::move(inputs), out_ids, std::move(attrs)});
  return out_ids;
}

void Graph::mark_output(TensorId id, std::string name) {
  Tensor& t = tensors_.at(id);
  t.is_output = true;
  t.name = std::move(name);
}

std::vector<TensorId> Graph::inputs() const {
  std::vector<TensorId> ids;
  for (TensorId i = 0; i < tensors_.size(); ++i) {
    if (tensors_[i].kind == TensorKind::input) ids.push_back(i);
  }
  return ids;
}

std::vector<TensorId> Graph::outputs() const {
  std::vector<TensorId> ids;
  for (TensorId i = 0; i < tensors_.size(); ++i) {
    if (tensors_[i].is_output) ids.push_back(i);
  }
  return ids;
}

TensorId Graph::find(const std::string& name) const {
  for (TensorId i = 0; i < tensors_.size(); ++i) {
    if (tensors_[i].name == name) return i;
  }
  throw not_found("graph has no tensor '" + name + "'");
}

fathom_op_desc Graph::op_desc(NodeId id, std::vector<fathom_tensor_desc>& storage) const {
  const Node& n = nodes_.at(id);
  storage.clear();
  for (TensorId t : n.inputs) storage.push_back(tensors_[t].desc);
  for (TensorId t : n.outputs) storage.push_back(tensors_[t].desc);
  return fathom_op_desc{sizeof(fathom_op_desc),
                        n.op,
                        static_cast<uint32_t>(n.inputs.size()),
                        static_cast<uint32_t>(n.outputs.size()),
                        storage.data(),
                        storage.data() + n.inputs.size(),
                        n.attrs.empty() ? nullptr : n.attrs.data(),
                        static_cast<uint32_t>(n.attrs.size()),
                        0};
}

}  // namespace fathom::graph
