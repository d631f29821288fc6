#include "cli_common.h"

#include <sstream>

#include "fathom/core/error.h"
#include "fathom/core/logging.h"

namespace fathom::cli {

void DeploymentOptions::add_to(CLI::App& command) {
  command.add_option("--config", config_path, "deployment TOML file (see configs/ and docs/configuration.md)");
  command.add_option("--plugin-path", plugin_dirs, "extra folder to search for backend plugins (repeatable)");
  command.add_option("--set", overrides,
                     "KEY=VALUE: one deployment key over the file's (repeatable), e.g. --set backend.cpu.threads=8 "
                     "--set runtime.kv_cache_dtype=bf16 (docs/configuration.md)");
}

void DeploymentOptions::add_speculative_to(CLI::App& command) {
  command.add_option("--speculative", speculative,
                     "mtp: draft with the model's MTP module and verify in the decode step; ngram: draft from "
                     "the text's own earlier tokens (prompt lookup); off (default: runtime.speculative)")
      ->check(CLI::IsMember({"off", "mtp", "ngram"}));
  command.add_option("--speculative-tokens", speculative_tokens,
                     "drafts per step, at most (default: runtime.speculative_tokens, else 3 for ngram and 1 for mtp)")
      ->check(CLI::Range(1, 16));
}

void DeploymentOptions::add_chat_template_to(CLI::App& command) {
  command.add_option("--chat-template", chat_template,
                     "render chats with this Jinja file instead of the model's chat_template (for example one "
                     "that presents tools)")
      ->check(CLI::ExistingFile);
}

Config DeploymentOptions::load(const GlobalOptions& global) const {
  Config config = load_config(config_path, overrides);
  if (!speculative.empty()) config.runtime.speculative = speculative;
  if (speculative_tokens) config.runtime.speculative_tokens = *speculative_tokens;
  if (prefill_chunk) config.runtime.prefill_chunk = *prefill_chunk;
  set_log_level(global.log_level.empty() ? config.runtime.log_level : global.log_level);
  return config;
}

PluginHost DeploymentOptions::make_host(const Config& config) const {
  PluginHost host(config);
  for (const auto& d : plugin_dirs) host.add_search_dir(d);
  return host;
}

std::vector<int32_t> parse_token_ids(const std::string& text, const std::string& option) {
  std::vector<int32_t> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      const long long v = std::stoll(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      throw invalid_argument(option + ": '" + item + "' is not a token id (expected comma-separated integers)");
    }
  }
  if (ids.empty()) throw invalid_argument(option + ": no token ids given");
  return ids;
}

}  // namespace fathom::cli
