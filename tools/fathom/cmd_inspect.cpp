// `fathom inspect`: the model (architecture, parameter counts, what the weights hold), its
// operator graph (statistics) and, with --placement, which backend runs each node and why.
// A directory with only config.json is enough for the architecture and the counts.
#include <fstream>
#include <iostream>
#include <memory>

#include "cli_common.h"
#include "fathom/core/error.h"
#include "fathom/graph/deepseek_builder.h"
#include "fathom/graph/export.h"
#include "fathom/graph/placement.h"
#include "fathom/model/checkpoint.h"
#include "fathom/model/inspect.h"

namespace fathom::cli {
namespace {

struct InspectOptions {
  DeploymentOptions deploy;
  std::string model_dir;
  bool placement = false;
  std::string dot_file;
};

void print_graph_stats(const graph::GraphStats& s, const graph::BuildOptions& build) {
  std::cout << "\ngraph (prefill)\n";
  std::cout << "  nodes: " << s.nodes << "\n";
  for (const auto& [op, n] : s.nodes_per_op) std::cout << "    " << op << ": " << n << "\n";
  std::cout << "  weight tensors: " << s.weight_tensors << " (" << s.weight_bytes << " bytes, mapped, not copied)\n";
  std::cout << "  state tensors (KV cache): " << s.state_tensors << ", " << s.state_bytes << " bytes ("
            << dtype_name(static_cast<DType>(build.cache_dtype)) << ", " << build.n_slots << " slots of " << build.max_seq_len
            << " positions)\n";
}

int run_inspect(const GlobalOptions& global, const InspectOptions& o) {
  Config config = o.deploy.load(global);
  model::ModelInspection inspection = model::inspect_model(o.model_dir);
  std::cout << model::format_inspection(inspection);
  if (!inspection.weights) {
    if (o.placement || !o.dot_file.empty()) {
      throw invalid_argument(o.model_dir + ": holds no weights, so there is no graph to place or draw");
    }
    std::cout << "\ngraph: not built (the directory holds only config.json)\n";
    return 0;
  }
  model::Checkpoint checkpoint = model::Checkpoint::open(o.model_dir);
  graph::BuildOptions build{false, config.runtime.max_batch, config.runtime.max_seq_len, FATHOM_DTYPE_F32};
  build.cache_dtype = static_cast<uint32_t>(config.runtime.kv_cache_dtype);
  graph::Graph g = graph::build_deepseek(inspection.spec, checkpoint, build);
  print_graph_stats(graph::graph_stats(g), build);

  std::unique_ptr<graph::Placement> placement;
  if (o.placement || !o.dot_file.empty()) {
    PluginHost host = o.deploy.make_host(config);
    auto chain = host.backend_chain();
    std::cout << "\nbackends" << (config.runtime.auto_backends() ? " (auto)" : "") << ": " << backend_names(chain);
    placement = std::make_unique<graph::Placement>(graph::place(g, std::move(chain), config.placement));
    std::cout << "\nplacement: " << graph::placement_summary(g, *placement) << "\n";
    if (o.placement) std::cout << graph::placement_table(g, *placement);
  }
  if (!o.dot_file.empty()) {
    std::ofstream out(o.dot_file);
    if (!out) throw io_error("--dot: cannot write '" + o.dot_file + "'");
    out << graph::to_dot(g, placement.get());
    std::cout << "graph written to " << o.dot_file << " (render with: dot -Tsvg " << o.dot_file << ")\n";
  }
  return 0;
}

void setup(CLI::App& root, GlobalOptions& global, CommandRunner& run) {
  auto* cmd = root.add_subcommand("inspect", "Describe a model: architecture, parameters, graph, placement");
  auto o = std::make_shared<InspectOptions>();
  o->deploy.add_to(*cmd);
  cmd->add_option("--model", o->model_dir, "model directory (config.json, optionally safetensors) or GGUF file")->required();
  cmd->add_flag("--placement", o->placement, "print the backend of every node and why");
  cmd->add_option("--dot", o->dot_file, "write the graph as Graphviz DOT to this file");
  cmd->callback([&global, &run, o] { run = [&global, o] { return run_inspect(global, *o); }; });
}

FATHOM_REGISTER_COMMAND(setup);

}  // namespace
}  // namespace fathom::cli
