// The HIP backend where it is built: the plugin loads on any machine (Debian's libamdhip64
// resolves without a GPU), and on one without a usable AMD GPU it is refused with a reason that
// starts "no HIP device", which the conformance and golden suites then skip with. The shipped
// configs/hip.toml names only options the plugin declares.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "fathom/core/config.h"
#include "plugin_fixture.h"

namespace fathom::test {
namespace {

#if FATHOM_HIP_PLUGIN_BUILT
const PluginRecord* hip_record() {
  for (const PluginRecord* r : built_plugins().records()) {
    if (r->name == "hip" && r->state != PluginRecord::State::shadowed) return r;
  }
  return nullptr;
}
#endif

TEST(HipPlugin, LoadsAndSaysWhyItCannotRunWithoutAnAmdGpu) {
#if !FATHOM_HIP_PLUGIN_BUILT
  GTEST_SKIP() << "FATHOM_HIP is OFF (no hipcc at configure time): the hip plugin is not built";
#else
  const PluginRecord* hip = hip_record();
  ASSERT_NE(hip, nullptr) << "libfathom-backend-hip.so not found next to fathom";
  ASSERT_NE(hip->state, PluginRecord::State::found);
  // Refused at probe, not at dlopen: the library and its ABI table loaded.
  EXPECT_EQ(hip->version, "0.1.0");
  EXPECT_EQ(hip->abi.substr(0, 2), "1.");
  if (hip->state == PluginRecord::State::loaded) GTEST_SKIP() << "an AMD GPU is usable here; nothing to refuse";
  EXPECT_EQ(hip->reason.rfind("cannot run here: no HIP device", 0), 0u) << hip->reason;
#endif
}

// The device code is in the plugin for every target of FATHOM_HIP_ARCH: the offload bundle
// names each one ("hipv4-amdgcn-amd-amdhsa--gfx90a").
TEST(HipPlugin, HoldsCodeObjectsForEachTarget) {
#if !FATHOM_HIP_PLUGIN_BUILT
  GTEST_SKIP() << "FATHOM_HIP is OFF (no hipcc at configure time): the hip plugin is not built";
#else
  std::ifstream so(std::string(FATHOM_PLUGIN_DIR) + "/libfathom-backend-hip.so", std::ios::binary);
  ASSERT_TRUE(so);
  std::stringstream bytes;
  bytes << so.rdbuf();
  std::stringstream archs(FATHOM_HIP_ARCHS);
  for (std::string arch; std::getline(archs, arch, ',');) {
    EXPECT_NE(bytes.str().find("amdgcn-amd-amdhsa--" + arch), std::string::npos) << "no code object for " << arch;
  }
#endif
}

TEST(HipPlugin, ShippedConfigNamesOnlyDeclaredOptions) {
#if !FATHOM_HIP_PLUGIN_BUILT
  GTEST_SKIP() << "FATHOM_HIP is OFF (no hipcc at configure time): the hip plugin is not built";
#else
  const Config config = load_config(std::string(FATHOM_SOURCE_DIR) + "/configs/hip.toml");
  ASSERT_EQ(config.runtime.backends, (std::vector<std::string>{"hip", "cpu"}));
  const BackendTable* table = config.backend_table("hip");
  ASSERT_NE(table, nullptr);
  const PluginRecord* hip = hip_record();
  ASSERT_NE(hip, nullptr);
  for (const auto& [key, value] : *table->values) {
    const auto declared = std::find_if(hip->options.begin(), hip->options.end(),
                                       [&](const OptionInfo& o) { return o.name == key.str(); });
    EXPECT_NE(declared, hip->options.end()) << "configs/hip.toml: [backend.hip] " << key.str() << " is not declared";
  }
#endif
}

}  // namespace
}  // namespace fathom::test
