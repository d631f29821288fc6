// How `fathom` subcommands plug into the CLI.
//
// Each subcommand lives in its own cmd_<name>.cpp and registers itself with
// FATHOM_REGISTER_COMMAND(setup). `setup` adds a CLI11 subcommand to the root app and,
// in that subcommand's callback, stores the function to run in `run`. main() parses the
// command line, then calls `run` inside one try/catch that turns fathom::Error into a
// message on stderr and a non-zero exit status. Commands print results to stdout.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace fathom::cli {

// Options every subcommand shares (set on the root app).
struct GlobalOptions {
  std::string log_level;  // empty: take the level from the config file (or "warn")
};

using CommandRunner = std::function<int()>;
using CommandSetup = std::function<void(CLI::App& root, GlobalOptions& global, CommandRunner& run)>;

bool register_command(CommandSetup setup);
const std::vector<CommandSetup>& registered_commands();

}  // namespace fathom::cli

#define FATHOM_CLI_CONCAT_INNER(a, b) a##b
#define FATHOM_CLI_CONCAT(a, b) FATHOM_CLI_CONCAT_INNER(a, b)
#define FATHOM_REGISTER_COMMAND(setup) \
  static const bool FATHOM_CLI_CONCAT(fathom_command_registered_, __LINE__) = ::fathom::cli::register_command(setup)
