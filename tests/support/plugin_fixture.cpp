#include "plugin_fixture.h"

namespace fathom::test {

PluginHost& built_plugins() {
  static Config config = [] {
    Config c = default_config();
    c.runtime.plugin_path = {FATHOM_PLUGIN_DIR, FATHOM_GPUSIM_DIR};
    return c;
  }();
  static PluginHost host = [] {
    PluginHost h(config);
    h.load_all();
    return h;
  }();
  return host;
}

std::shared_ptr<BackendInstance> reference_backend() { return built_plugins().backend("reference"); }

std::vector<std::string> other_backend_names() {
  std::vector<std::string> names;
  for (const PluginRecord* r : built_plugins().records()) {
    if (r->name != "reference" && r->state != PluginRecord::State::shadowed) names.push_back(r->name);
  }
  return names;
}

}  // namespace fathom::test
