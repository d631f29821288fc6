#include "fathom/graph/export.h"

#include <sstream>

#include "fathom/core/dtype.h"
#include "fathom/core/ops.h"

namespace fathom::graph {

GraphStats graph_stats(const Graph& graph) {
  GraphStats s;
  s.nodes = graph.nodes().size();
  for (const Node& n : graph.nodes()) ++s.nodes_per_op[std::string(op_name(n.op))];
  for (const Tensor& t : graph.tensors()) {
    if (t.kind == TensorKind::weight) {
      ++s.weight_tensors;
      s.weight_bytes += t.weight->nbytes;
    }
    if (t.kind == TensorKind::state) {
      ++s.state_tensors;
      uint64_t elements = 1;
      for (uint32_t d = 0; d < t.desc.rank; ++d) elements *= static_cast<uint64_t>(t.desc.shape[d]);
      s.state_bytes += elements * dtype_size(static_cast<DType>(t.desc.dtype));
    }
  }
  return s;
}

std::string placement_table(const Graph& graph, const Placement& placement) {
  std::ostringstream out;
  size_t width = 4;
  for (const Node& n : graph.nodes()) width = std::max(width, n.name.size());
  for (NodeId i = 0; i < graph.nodes().size(); ++i) {
    const Node& n = graph.node(i);
    std::string name = n.name;
    name.resize(width, ' ');
    std::string op(op_name(n.op));
    op.resize(14, ' ');
    out << name << "  " << op << "  " << placement.backend_name(i) << "  (" << placement.nodes[i].reason << ")\n";
  }
  return out.str();
}

std::string placement_summary(const Graph& graph, const Placement& placement) {
  std::map<std::string, size_t> per_backend;
  for (NodeId i = 0; i < graph.nodes().size(); ++i) ++per_backend[placement.backend_name(i)];
  std::string s;
  for (const auto& [name, count] : per_backend) s += (s.empty() ? "" : ", ") + name + ": " + std::to_string(count) + " nodes";
  return s;
}

std::string to_dot(const Graph& graph, const Placement* placement) {
  static const char* colours[] = {"lightblue", "lightgoldenrod", "palegreen", "lightpink", "lightgrey"};
  std::ostringstream out;
  out << "digraph fathom {\n  rankdir=TB;\n  node [shape=box, style=filled, fontname=\"monospace\"];\n";
  for (NodeId i = 0; i < graph.nodes().size(); ++i) {
    const Node& n = graph.node(i);
    const char* colour = placement ? colours[placement->nodes[i].backend % 5] : "white";
    out << "  n" << i << " [label=\"" << n.name << "\\n" << op_name(n.op);
    if (placement) out << " @ " << placement->backend_name(i);
    out << "\", fillcolor=" << colour << "];\n";
  }
  for (NodeId i = 0; i < graph.nodes().size(); ++i) {
    for (TensorId t : graph.node(i).inputs) {
      const Tensor& tensor = graph.tensor(t);
      if (tensor.kind == TensorKind::activation) out << "  n" << tensor.producer << " -> n" << i << ";\n";
    }
  }
  out << "}\n";
  return out.str();
}

}  // namespace fathom::graph
