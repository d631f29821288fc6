#include "fathom/graph/placement.h"

#include <algorithm>

#include "fathom/core/error.h"
#include "fathom/core/ops.h"

namespace fathom::graph {

namespace {

// Every backend's answer for every node, asked in one batch per backend.
std::vector<std::vector<OpSupport>> query_all(const Graph& graph, const std::vector<std::shared_ptr<BackendInstance>>& chain) {
  std::vector<std::vector<fathom_tensor_desc>> storage(graph.nodes().size());
  std::vector<fathom_op_desc> descs;
  for (NodeId n = 0; n < graph.nodes().size(); ++n) descs.push_back(graph.op_desc(n, storage[n]));
  std::vector<std::vector<OpSupport>> answers;
  for (const auto& backend : chain) answers.push_back(backend->query_ops(0, descs));
  return answers;
}

// Why a node went where it did, with the note the backend attached to its yes (e.g. "FP8 weights
// converted to bf16 at load"): users see both in `fathom inspect --placement`.
std::string with_note(std::string why, const std::string& backend, const OpSupport& s) {
  if (!s.reason.empty()) why += "; " + backend + ": " + s.reason;
  return why;
}

const PlacementRule* matching_rule(const Node& node, const std::vector<PlacementRule>& rules) {
  for (const PlacementRule& r : rules) {  // node rules come first in Config::placement
    if (r.kind == PlacementRule::Kind::node ? glob_match(r.match, node.name) : op_name(node.op) == r.match) return &r;
  }
  return nullptr;
}

}  // namespace

Placement place(const Graph& graph, std::vector<std::shared_ptr<BackendInstance>> chain,
                const std::vector<PlacementRule>& rules) {
  if (chain.empty()) throw invalid_argument("placement: runtime.backends is empty");
  Placement placement;
  placement.backends = std::move(chain);
  const auto answers = query_all(graph, placement.backends);

  for (NodeId n = 0; n < graph.nodes().size(); ++n) {
    const Node& node = graph.node(n);
    if (const PlacementRule* rule = matching_rule(node, rules)) {
      // Under runtime.backends = ["auto"] a rule may name a backend that did not load here.
      const bool in_chain = std::any_of(placement.backends.begin(), placement.backends.end(),
                                        [&](const auto& b) { return b->name() == rule->backend; });
      if (!in_chain) {
        throw invalid_argument(rule->where.str() + ": placement rule '" + rule->match + "' puts node '" + node.name +
                               "' on " + rule->backend + ", which is not in the chain (" +
                               backend_names(placement.backends) + "); `fathom backends` says why");
      }
      for (size_t b = 0; b < placement.backends.size(); ++b) {
        if (placement.backends[b]->name() != rule->backend) continue;
        const OpSupport& s = answers[b][n];
        if (s.level == FATHOM_SUPPORT_NO) {
          throw invalid_argument(rule->where.str() + ": placement rule '" + rule->match + "' puts node '" + node.name +
                                 "' (" + std::string(op_name(node.op)) + ") on " + rule->backend +
                                 ", which does not support it: " + s.reason);
        }
        placement.nodes.push_back(
            {b, with_note("placement rule '" + rule->match + "' (" + rule->where.str() + ")", rule->backend, s)});
        break;
      }
      continue;
    }
    std::string declined;
    bool placed = false;
    for (size_t b = 0; b < placement.backends.size() && !placed; ++b) {
      const OpSupport& s = answers[b][n];
      if (s.level == FATHOM_SUPPORT_NO) {
        declined += (declined.empty() ? "" : "; ") + placement.backends[b]->name() + ": " + s.reason;
        continue;
      }
      placement.nodes.push_back({b, with_note(declined.empty() ? "first backend in runtime.backends" : "fallback (" + declined + ")",
                                              placement.backends[b]->name(), s)});
      placed = true;
    }
    if (!placed) {
      throw unsupported("no backend in runtime.backends accepts node '" + node.name + "' (op " +
                        std::string(op_name(node.op)) + "): " + declined);
    }
  }
  return placement;
}

}  // namespace fathom::graph
