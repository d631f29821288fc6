// Describing a graph to people: statistics, a placement table, Graphviz DOT.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "fathom/graph/graph.h"
#include "fathom/graph/placement.h"

namespace fathom::graph {

struct GraphStats {
  size_t nodes = 0;
  size_t weight_tensors = 0;
  uint64_t weight_bytes = 0;
  size_t state_tensors = 0;
  uint64_t state_bytes = 0;  // the KV cache, for every slot and position
  std::map<std::string, size_t> nodes_per_op;  // op name → count
};

GraphStats graph_stats(const Graph& graph);

// One line per node: name, op, backend, reason. `placement` may be null.
std::string placement_table(const Graph& graph, const Placement& placement);
// "ops per backend" one-liner for start-up logs: "reference: 412 nodes".
std::string placement_summary(const Graph& graph, const Placement& placement);

// Graphviz: nodes coloured by backend when a placement is given.
std::string to_dot(const Graph& graph, const Placement* placement);

}  // namespace fathom::graph
