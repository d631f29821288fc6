// `fathom`: parses the command line, runs the chosen subcommand, maps errors to exit codes.
#include <cstdio>
#include <iostream>

#include "command.h"
#include "fathom/core/error.h"
#include "fathom/core/logging.h"

int main(int argc, char** argv) {
  using namespace fathom;
  CLI::App app{"Fathom: a DeepSeek inference runtime with run-time loaded backends", "fathom"};
  app.set_version_flag("--version", std::string("fathom ") + FATHOM_VERSION);
  app.require_subcommand(1);
  cli::GlobalOptions global;
  app.add_option("--log-level", global.log_level, "trace, debug, info, warn, error or off (overrides the config)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  cli::CommandRunner run;
  for (const auto& setup : cli::registered_commands()) setup(app, global, run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!run) return 0;
  try {
    return run();
  } catch (const Error& e) {
    std::cerr << "fathom: error: " << e.what() << "\n";
    return e.code() == ErrorCode::internal ? 3 : 1;
  } catch (const std::exception& e) {
    std::cerr << "fathom: internal error: " << e.what() << "\n";
    return 3;
  }
}
