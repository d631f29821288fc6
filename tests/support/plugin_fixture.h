// Access to the plugins built with the tree (build/bin), for tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fathom/core/config.h"
#include "fathom/core/plugin_host.h"

namespace fathom::test {

// One host for the whole test process over the built plugins (FATHOM_PLUGIN_DIR) and the GPU
// simulator's (FATHOM_GPUSIM_DIR: the GPU backend's sources run on the host, tests/gpusim).
PluginHost& built_plugins();
std::shared_ptr<BackendInstance> reference_backend();
// Names of every plugin found in the build other than `reference`, loaded or not.
std::vector<std::string> other_backend_names();

}  // namespace fathom::test
