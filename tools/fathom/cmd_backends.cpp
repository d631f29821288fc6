// `fathom backends`: every plugin found, loaded or refused (and why), its devices, ops, options.
#include <algorithm>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "fathom/core/ops.h"

namespace fathom::cli {
namespace {

std::string human_bytes(uint64_t b) {
  if (b == 0) return "?";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1ull << 30));
  return buf;
}

// The chain a model would run on, as configured or as "auto" picks it here.
struct Chain {
  std::vector<std::string> names;
  std::vector<std::string> skipped;  // "auto" only: why each other candidate was passed over
  bool automatic = false;
};

Chain chain_of(const Config& config, PluginHost& host) {
  Chain chain;
  chain.automatic = config.runtime.auto_backends();
  if (!chain.automatic) {
    chain.names = config.runtime.backends;
    return chain;
  }
  PluginHost::AutoChain picked = host.automatic_chain();
  for (const auto& b : picked.backends) chain.names.push_back(b->name());
  chain.skipped = std::move(picked.skipped);
  return chain;
}

void print_text(const std::vector<const PluginRecord*>& records, const std::vector<std::filesystem::path>& dirs,
                const Chain& chain) {
  std::cout << "plugin search path:";
  for (const auto& d : dirs) std::cout << " " << d.string();
  std::cout << "\nruntime.backends" << (chain.automatic ? " (auto)" : "") << ":";
  for (const auto& n : chain.names) std::cout << " " << n;
  if (chain.names.empty()) std::cout << " none runs here";
  std::cout << "\n";
  for (const auto& s : chain.skipped) std::cout << "  passed over " << s << "\n";
  if (records.empty()) std::cout << "no backend plugins found\n";
  for (const PluginRecord* r : records) {
    std::cout << "\n" << r->name << "  [" << plugin_state_name(r->state) << "]";
    if (!r->version.empty()) std::cout << "  version " << r->version << "  ABI " << r->abi;
    std::cout << "\n  file: " << r->path.string() << "\n";
    if (!r->reason.empty()) std::cout << "  reason: " << r->reason << "\n";
    for (size_t d = 0; d < r->devices.size(); ++d) {
      const DeviceInfo& dev = r->devices[d];
      std::cout << "  device " << d << ": " << dev.name;
      if (!dev.description.empty()) std::cout << " (" << dev.description << ")";
      if (dev.total_memory) std::cout << ", " << human_bytes(dev.total_memory);
      std::cout << "\n";
    }
    if (!r->ops.empty()) {
      std::cout << "  ops:";
      for (uint32_t op : r->ops) std::cout << " " << op_name(op);
      std::cout << "\n";
    }
    for (const auto& o : r->options) {
      std::cout << "  option " << o.name << " (" << o.type << ", default " << o.default_value << "): " << o.doc << "\n";
    }
  }
}

nlohmann::json to_json(const std::vector<const PluginRecord*>& records, const Chain& chain) {
  nlohmann::json out = nlohmann::json::array();
  for (const PluginRecord* r : records) {
    nlohmann::json j{{"name", r->name}, {"path", r->path.string()}, {"state", plugin_state_name(r->state)},
                     {"reason", r->reason}, {"version", r->version}, {"abi", r->abi}};
    // Its place in the fallback chain (0 = preferred), null when the chain does not use it.
    auto at = std::find(chain.names.begin(), chain.names.end(), r->name);
    const bool used = at != chain.names.end() && r->state == PluginRecord::State::loaded;
    j["chain_position"] = used ? nlohmann::json(at - chain.names.begin()) : nlohmann::json(nullptr);
    j["devices"] = nlohmann::json::array();
    for (const auto& d : r->devices) {
      j["devices"].push_back({{"name", d.name}, {"description", d.description}, {"total_memory", d.total_memory}});
    }
    j["ops"] = nlohmann::json::array();
    for (uint32_t op : r->ops) j["ops"].push_back(op_name(op));
    j["options"] = nlohmann::json::array();
    for (const auto& o : r->options) {
      j["options"].push_back({{"name", o.name}, {"type", o.type}, {"default", o.default_value}, {"doc", o.doc}});
    }
    out.push_back(std::move(j));
  }
  return out;
}

void setup(CLI::App& root, GlobalOptions& global, CommandRunner& run) {
  auto* cmd = root.add_subcommand("backends", "List backend plugins: loaded or refused (with the reason), devices, ops");
  auto deploy = std::make_shared<DeploymentOptions>();
  auto as_json = std::make_shared<bool>(false);
  deploy->add_to(*cmd);
  cmd->add_flag("--json", *as_json, "print one JSON array instead of text");
  cmd->callback([&global, &run, deploy, as_json] {
    run = [&global, deploy, as_json] {
      Config config = deploy->load(global);
      PluginHost host = deploy->make_host(config);
      host.load_all();
      auto records = host.records();
      const Chain chain = chain_of(config, host);
      if (*as_json) std::cout << to_json(records, chain).dump(2) << "\n";
      else print_text(records, host.search_dirs(), chain);
      return 0;  // refused plugins are information, not failure
    };
  });
}

FATHOM_REGISTER_COMMAND(setup);

}  // namespace
}  // namespace fathom::cli
