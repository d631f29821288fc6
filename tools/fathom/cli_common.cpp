#include "cli_common.h"

#include "fathom/core/logging.h"

namespace fathom::cli {

void DeploymentOptions::add_to(CLI::App& command) {
  command.add_option("--config", config_path, "deployment TOML file (see configs/ and docs/configuration.md)");
  command.add_option("--plugin-path", plugin_dirs, "extra folder to search for backend plugins (repeatable)");
}

void DeploymentOptions::add_speculative_to(CLI::App& command) {
  command.add_option("--speculative", speculative,
                     "mtp: draft with the model's MTP module and verify in the decode step; ngram: draft from "
                     "the text's own earlier tokens (prompt lookup); off (default: runtime.speculative)")
      ->check(CLI::IsMember({"off", "mtp", "ngram"}));
}

Config DeploymentOptions::load(const GlobalOptions& global) const {
  Config config = config_path.empty() ? default_config() : load_config(config_path);
  if (!speculative.empty()) config.runtime.speculative = speculative;
  if (prefill_chunk) config.runtime.prefill_chunk = *prefill_chunk;
  set_log_level(global.log_level.empty() ? config.runtime.log_level : global.log_level);
  return config;
}

PluginHost DeploymentOptions::make_host(const Config& config) const {
  PluginHost host(config);
  for (const auto& d : plugin_dirs) host.add_search_dir(d);
  return host;
}

}  // namespace fathom::cli
