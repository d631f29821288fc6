// Placement: which backend runs each node (architecture brief §4).
//
// Per node: (1) a [placement] rule — node-name globs first, then op kinds; the named backend must
// accept the node, or loading fails naming the rule; (2) otherwise the first backend of
// runtime.backends that accepts it; (3) nothing outside that list, ever: a node no listed backend
// accepts is a load-time error naming the node, its op and each backend's answer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fathom/core/backend.h"
#include "fathom/core/config.h"
#include "fathom/graph/graph.h"

namespace fathom::graph {

struct NodePlacement {
  size_t backend = 0;  // index into Placement::backends
  std::string reason;  // why there, for `fathom inspect --placement`
};

struct Placement {
  std::vector<std::shared_ptr<BackendInstance>> backends;  // runtime.backends, in order
  std::vector<NodePlacement> nodes;                         // one per graph node

  const std::string& backend_name(NodeId node) const { return backends[nodes[node].backend]->name(); }
};

Placement place(const Graph& graph, std::vector<std::shared_ptr<BackendInstance>> chain,
                const std::vector<PlacementRule>& rules);

// True when `name` matches the glob `pattern` ('*' any run, '?' one character).
bool glob_match(std::string_view pattern, std::string_view name);

}  // namespace fathom::graph
