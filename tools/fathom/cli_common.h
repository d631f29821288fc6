// Helpers shared by the subcommands: the --config option, log level, plugin path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "command.h"
#include "fathom/core/config.h"
#include "fathom/core/plugin_host.h"

namespace fathom::cli {

// Options most commands take.
struct DeploymentOptions {
  std::string config_path;               // --config; empty = built-in defaults
  std::vector<std::string> plugin_dirs;  // --plugin-path (searched first)
  std::vector<std::string> overrides;    // --set KEY=VALUE, over the file's keys (load_config)
  std::string speculative;               // --speculative; empty = runtime.speculative
  std::optional<int64_t> speculative_tokens;  // --speculative-tokens, over runtime.speculative_tokens
  std::optional<int64_t> prefill_chunk;  // set by a command, over runtime.prefill_chunk
  std::string chat_template;             // --chat-template FILE; empty = the model's own

  void add_to(CLI::App& command);
  // --speculative and --speculative-tokens, for the commands that generate.
  void add_speculative_to(CLI::App& command);
  // --chat-template, for the commands that render chats.
  void add_chat_template_to(CLI::App& command);
  // Loads the config (or the defaults) and applies the log level: --log-level wins over the file,
  // as --speculative and prefill_chunk do.
  Config load(const GlobalOptions& global) const;
  // A plugin host over `config` with the --plugin-path folders added.
  PluginHost make_host(const Config& config) const;
};

// Comma-separated token ids ("3,17,42"); `option` names the flag in errors.
std::vector<int32_t> parse_token_ids(const std::string& text, const std::string& option);

}  // namespace fathom::cli
