#include "command.h"

namespace fathom::cli {

namespace {
std::vector<CommandSetup>& registry() {
  static std::vector<CommandSetup> commands;  // function-local: safe during static initialisation
  return commands;
}
}  // namespace

bool register_command(CommandSetup setup) {
  registry().push_back(std::move(setup));
  return true;
}

const std::vector<CommandSetup>& registered_commands() { return registry(); }

}  // namespace fathom::cli
