// The plugin host against misbehaving plugins: each is refused with a reason that says what is
// wrong, nothing crashes, and the good plugins next to them keep working.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include <unistd.h>

#include "fathom/core/error.h"
#include "fathom/core/plugin_host.h"
#include "op_runner.h"

namespace fathom::test {
namespace {

Config config_with_broken_dir() {
  Config c = default_config();
  c.runtime.plugin_path = {FATHOM_BROKEN_PLUGIN_DIR, FATHOM_PLUGIN_DIR};
  return c;
}

// Runs a shell command; its stdout (stderr too when the command redirects it) and wait status.
std::string run_shell(const std::string& cmd, int& status) {
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    status = -1;
    return "popen failed";
  }
  std::string output;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) output.append(buf.data(), n);
  status = pclose(pipe);
  return output;
}

// The names of the host's fallback chain, in order.
std::vector<std::string> chain_names(PluginHost& host) {
  std::vector<std::string> names;
  for (const auto& b : host.backend_chain()) names.push_back(b->name());
  return names;
}

std::map<std::string, const PluginRecord*> by_name(PluginHost& host) {
  std::map<std::string, const PluginRecord*> m;
  for (const PluginRecord* r : host.records()) {
    if (r->state != PluginRecord::State::shadowed) m[r->name] = r;
  }
  return m;
}

TEST(PluginHost, RefusesEachBrokenPluginWithItsReason) {
  Config config = config_with_broken_dir();
  PluginHost host(config);
  host.load_all();
  auto records = by_name(host);

  const std::map<std::string, std::string> expected = {
      {"garbage", "cannot be loaded as a shared library"},
      {"nosymbol", "exports no 'fathom_backend_entry' symbol"},
      {"nulltable", "returned NULL"},
      {"wrongmajor", "built for plugin ABI 2."},
      {"smalltable", "ABI table is 24 bytes"},
      {"missingfn", "lacks the required function 'run'"},
      {"misnamed", "calls itself 'somebody-else'"},
      {"probezero", "cannot run here: no widget attached to this machine"},
      {"throwcreate", "create() threw an exception across the ABI"},
      {"failcreate", "create() failed: the widget driver is too old"},
  };
  for (const auto& [name, reason] : expected) {
    ASSERT_TRUE(records.count(name)) << "plugin '" << name << "' was not found";
    const PluginRecord* r = records[name];
    EXPECT_EQ(r->state, PluginRecord::State::refused) << name;
    EXPECT_NE(r->reason.find(reason), std::string::npos) << name << ": reason was '" << r->reason << "'";
  }
  ASSERT_TRUE(records.count("reference"));
  EXPECT_EQ(records["reference"]->state, PluginRecord::State::loaded) << records["reference"]->reason;
}

TEST(PluginHost, GoodPluginStillComputesNextToBrokenOnes) {
  Config config = config_with_broken_dir();
  PluginHost host(config);
  host.load_all();
  auto reference = host.backend("reference");
  std::vector<float> a = {1, 2}, b = {3, 4};
  OpCall call{FATHOM_OP_ADD,
              {OpTensor{make_desc(FATHOM_DTYPE_F32, {1, 2}), false, {}}, OpTensor{make_desc(FATHOM_DTYPE_F32, {1, 2}), false, {}}},
              {OpTensor{make_desc(FATHOM_DTYPE_F32, {1, 2}), false, {}}},
              {}};
  call.inputs[0].data.resize(8);
  call.inputs[1].data.resize(8);
  std::memcpy(call.inputs[0].data.data(), a.data(), 8);
  std::memcpy(call.inputs[1].data.data(), b.data(), 8);
  run_op(reference, call);
  float out[2];
  std::memcpy(out, call.outputs[0].data.data(), 8);
  EXPECT_EQ(out[0], 4.f);
  EXPECT_EQ(out[1], 6.f);
}

TEST(PluginHost, AskingForARefusedBackendSaysWhy) {
  Config config = config_with_broken_dir();
  PluginHost host(config);
  try {
    host.backend("probezero");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unavailable);
    EXPECT_NE(std::string(e.what()).find("no widget attached"), std::string::npos) << e.what();
  }
  try {
    host.backend("does-not-exist");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
    EXPECT_NE(std::string(e.what()).find("libfathom-backend-does-not-exist.so"), std::string::npos) << e.what();
  }
}

TEST(PluginHost, BackendChainFollowsTheConfigOrder) {
  Config config = config_with_broken_dir();
  config.runtime.backends = {"template", "reference"};
  PluginHost host(config);
  auto chain = host.backend_chain();
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0]->name(), "template");
  EXPECT_EQ(chain[1]->name(), "reference");
}

TEST(PluginHost, UnknownBackendOptionIsAConfigErrorWithPosition) {
  Config config = parse_config("[runtime]\nbackends = [\"reference\"]\n\n[backend.reference]\ncheck_finite = true\nthreads = 4\n",
                               "deploy.toml");
  config.runtime.plugin_path = {FATHOM_PLUGIN_DIR};
  PluginHost host(config);
  try {
    host.backend("reference");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("deploy.toml:6:1: unknown key 'backend.reference.threads'"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("check_finite"), std::string::npos) << "should list the known keys: " << e.what();
  }
}

TEST(PluginHost, WrongTypeForABackendOption) {
  Config config = parse_config("[backend.reference]\ncheck_finite = \"yes\"\n", "deploy.toml");
  config.runtime.plugin_path = {FATHOM_PLUGIN_DIR};
  PluginHost host(config);
  try {
    host.backend("reference");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("deploy.toml:2:16: backend.reference.check_finite: expected a boolean, got a string"),
              std::string::npos)
        << e.what();
  }
}

TEST(PluginHost, TableForAMissingBackendIsAnError) {
  Config config = parse_config("[backend.refrence]\ncheck_finite = true\n", "deploy.toml");
  config.runtime.plugin_path = {FATHOM_PLUGIN_DIR};
  PluginHost host(config);
  try {
    host.load_all();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("deploy.toml:1:1: [backend.refrence]: no plugin"), std::string::npos) << e.what();
  }
}

// The same through the CLI: refused plugins are listed, and the exit status is 0.
TEST(PluginHost, CliListsRefusedPluginsAndExitsZero) {
  std::string cmd = std::string(FATHOM_BINARY_DIR) + "/bin/fathom backends --plugin-path " + FATHOM_BROKEN_PLUGIN_DIR + " 2>&1";
  int status = 0;
  const std::string output = run_shell(cmd, status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  // No --config: the chain "auto" picks, ending with the reference backend.
  const size_t chain = output.find("runtime.backends (auto):");
  ASSERT_NE(chain, std::string::npos) << output;
  EXPECT_NE(output.substr(chain, output.find('\n', chain) - chain).find(" reference"), std::string::npos) << output;
  EXPECT_NE(output.find("reference  [loaded]"), std::string::npos) << output;
  EXPECT_NE(output.find("wrongmajor  [refused]"), std::string::npos) << output;
  EXPECT_NE(output.find("reason: cannot run here: no widget attached"), std::string::npos) << output;
  EXPECT_NE(output.find("ops: embedding rms_norm matmul"), std::string::npos) << output;
}

// A note a backend attaches to its yes (op_support.reason on an accepted op) reaches the
// placement table, after why the node went there.
TEST(PluginHost, PlacementTableShowsTheNoteOfAnAcceptedOp) {
  const auto dir = std::filesystem::temp_directory_path() / "fathom_placement_note_test";
  std::filesystem::create_directories(dir);
  const auto config = dir / "noting.toml";
  std::ofstream(config) << "[runtime]\nbackends = [\"noting\"]\nplugin_path = [\"" << FATHOM_NOTING_PLUGIN_DIR << "\"]\n";
  const std::string cmd = std::string(FATHOM_BINARY_DIR) + "/bin/fathom inspect --model " + FATHOM_SOURCE_DIR +
                          "/tests/fixtures/deepseek-v3-tiny --placement --config " + config.string() + " 2>&1";
  int status = 0;
  const std::string output = run_shell(cmd, status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find("noting  (first backend in runtime.backends; noting: accepted with a test note)"), std::string::npos)
      << output;
}

// runtime.backends = ["auto"] (the default): cuda, hip, cpu, reference — those that load here,
// in that order; a loaded plugin outside that list (template) is not taken.
TEST(PluginHost, AutoChainIsTheCandidatesThatLoadInOrder) {
  Config config = default_config();
  config.runtime.plugin_path = {FATHOM_PLUGIN_DIR};
  PluginHost host(config);
  host.load_all();
  auto records = by_name(host);
  std::vector<std::string> expected, passed_over;
  for (const char* name : {"cuda", "hip", "cpu", "reference"}) {
    if (!records.count(name)) passed_over.push_back(std::string(name) + ": no plugin");
    else if (records[name]->state == PluginRecord::State::loaded) expected.push_back(name);
    else passed_over.push_back(std::string(name) + ": " + records[name]->reason);
  }
  ASSERT_TRUE(records.count("template"));
  EXPECT_EQ(records["template"]->state, PluginRecord::State::loaded) << records["template"]->reason;
  EXPECT_EQ(chain_names(host), expected);
  EXPECT_EQ(expected.back(), "reference");
  EXPECT_EQ(host.automatic_chain().skipped, passed_over);
}

// A folder whose "cpu" is a broken plugin (it shadows the real one next to the executable): auto
// passes over it with its reason and runs on the rest; a placement rule naming it is an error that
// names the rule's line and the chain, not a crash.
class AutoChainWithBrokenCpu : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("fathom_auto_chain_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::filesystem::create_symlink(std::filesystem::path(FATHOM_BROKEN_PLUGIN_DIR) / "libfathom-backend-probezero.so",
                                    dir_ / "libfathom-backend-cpu.so");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(AutoChainWithBrokenCpu, PassesOverItWithItsReason) {
  Config config = default_config();
  config.runtime.plugin_path = {dir_, FATHOM_PLUGIN_DIR};
  PluginHost host(config);
  const std::vector<std::string> names = chain_names(host);
  EXPECT_EQ(std::count(names.begin(), names.end(), "cpu"), 0);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.back(), "reference");
  bool said_why = false;
  for (const auto& s : host.automatic_chain().skipped) said_why |= s.rfind("cpu: ", 0) == 0 && s.find("probezero") != std::string::npos;
  EXPECT_TRUE(said_why) << "the broken cpu plugin should be passed over with its reason";
}

TEST_F(AutoChainWithBrokenCpu, PlacementOnABackendAutoDidNotPickIsAnError) {
  const auto config = dir_ / "auto.toml";
  std::ofstream(config) << "[runtime]\nplugin_path = [\"" << dir_.string() << "\"]\n[placement]\nops = { moe_experts = \"cpu\" }\n";
  const std::string cmd = std::string(FATHOM_BINARY_DIR) + "/bin/fathom inspect --model " + FATHOM_SOURCE_DIR +
                          "/tests/fixtures/deepseek-v3-tiny --placement --config " + config.string() + " 2>&1";
  int status = 0;
  const std::string output = run_shell(cmd, status);
  EXPECT_NE(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find("auto.toml:4:23: placement rule 'moe_experts' puts node"), std::string::npos) << output;
  EXPECT_NE(output.find("on cpu, which is not in the chain ("), std::string::npos) << output;
}

// Buffer::copy_within (prefix caching copies cache rows between slots with it): on the device
// where the backend copies (reference), staged through host memory where it declines (noting).
TEST(PluginHost, CopyWithinABufferOnTheDeviceOrStagedThroughTheHost) {
  Config c = default_config();
  c.runtime.plugin_path = {FATHOM_NOTING_PLUGIN_DIR, FATHOM_PLUGIN_DIR};
  PluginHost host(c);
  for (const char* name : {"reference", "noting"}) {
    Buffer b = Buffer::allocate(host.backend(name), 0, 64);
    std::vector<uint8_t> bytes(64);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
    b.upload(0, bytes.data(), bytes.size());
    b.copy_within(8, 40, 16);
    std::vector<uint8_t> out(64);
    b.download(0, out.data(), out.size());
    for (size_t i = 0; i < 16; ++i) EXPECT_EQ(out[40 + i], 8 + i) << name << ", byte " << 40 + i;
    EXPECT_EQ(out[39], 39) << name;
    EXPECT_EQ(out[56], 56) << name;
    EXPECT_THROW(b.copy_within(0, 8, 16), Error) << name << ": overlapping ranges";
    EXPECT_THROW(b.copy_within(0, 56, 16), Error) << name << ": past the end";
  }
}

}  // namespace
}  // namespace fathom::test
