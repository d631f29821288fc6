// Deployment-file loading: good files load, every kind of mistake names file:line:column.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "fathom/core/config.h"
#include "fathom/core/error.h"

namespace fathom {
namespace {

std::string error_of(const std::string& toml) {
  try {
    parse_config(toml, "deploy.toml");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_CONTAINS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(Config, DefaultsPickTheBackendsThemselves) {
  Config c = parse_config("", "empty.toml");
  EXPECT_EQ(c.runtime.backends, std::vector<std::string>{"auto"});
  EXPECT_TRUE(c.runtime.auto_backends());
  EXPECT_TRUE(default_config().runtime.auto_backends());
  EXPECT_EQ(c.runtime.kv_cache_dtype, DType::f32);
  EXPECT_EQ(c.runtime.max_batch, 8);
  EXPECT_EQ(c.runtime.speculative, "off");
  EXPECT_DOUBLE_EQ(c.generation.temperature, 0.6);
  EXPECT_EQ(c.server.host, "127.0.0.1");
}

TEST(Config, ReadsEveryTable) {
  Config c = parse_config(R"(
[runtime]
backends = ["cpu", "reference"]
plugin_path = ["plugins", "/opt/fathom"]
log_level = "info"
max_batch = 4
max_seq_len = 2048
speculative = "mtp"
speculative_max_batch = 1
speculative_tokens = 5
prefill_chunk = 64
prefix_caching = false
kv_cache_dtype = "bf16"

[placement]
ops = { moe_experts = "cpu" }
[[placement.nodes]]
pattern = "layers.1*.mlp.*"
backend = "reference"

[generation]
temperature = 0
top_k = 40
seed = 7

[server]
port = 9000
api_key = "secret"
cors_origins = ["https://app.example", "http://localhost:3000"]

[backend.cpu]
threads = 2
)",
                          "/etc/fathom/deploy.toml");
  EXPECT_EQ(c.runtime.backends, (std::vector<std::string>{"cpu", "reference"}));
  EXPECT_EQ(c.runtime.plugin_path[0], std::filesystem::path("/etc/fathom/plugins"));  // relative to the file
  EXPECT_EQ(c.runtime.plugin_path[1], std::filesystem::path("/opt/fathom"));
  EXPECT_EQ(c.runtime.kv_cache_dtype, DType::bf16);
  EXPECT_EQ(c.runtime.speculative, "mtp");
  EXPECT_EQ(c.runtime.speculative_max_batch, 1);
  EXPECT_EQ(c.runtime.speculative_tokens, 5);
  EXPECT_EQ(c.runtime.prefill_chunk, 64);
  EXPECT_FALSE(c.runtime.prefix_caching);
  ASSERT_EQ(c.placement.size(), 2u);
  EXPECT_EQ(c.placement[0].kind, PlacementRule::Kind::node);  // node rules first: more specific
  EXPECT_EQ(c.placement[0].match, "layers.1*.mlp.*");
  EXPECT_EQ(c.placement[1].kind, PlacementRule::Kind::op);
  EXPECT_EQ(c.placement[1].backend, "cpu");
  EXPECT_EQ(c.generation.temperature, 0.0);
  EXPECT_EQ(c.generation.top_k, 40);
  EXPECT_EQ(c.generation.seed, 7);
  EXPECT_EQ(c.server.port, 9000);
  EXPECT_EQ(c.server.cors_origins, (std::vector<std::string>{"https://app.example", "http://localhost:3000"}));
  ASSERT_NE(c.backend_table("cpu"), nullptr);
  EXPECT_EQ((*c.backend_table("cpu")->values)["threads"].value<int64_t>(), 2);
}

TEST(Config, SyntaxErrorHasPosition) {
  // toml++ reports the place where it gave up: the end of the unterminated array's line.
  EXPECT_CONTAINS(error_of("[runtime]\nbackends = [\"cpu\"\n"), "deploy.toml:2:19: TOML syntax error");
  EXPECT_CONTAINS(error_of("[runtime\n"), "deploy.toml:1:");
}

TEST(Config, UnknownKeysArePinpointed) {
  EXPECT_CONTAINS(error_of("[runtime]\nbackends = [\"reference\"]\nbackend = \"cpu\"\n"),
                  "deploy.toml:3:1: unknown key 'runtime.backend'");
  EXPECT_CONTAINS(error_of("[runtme]\n"), "deploy.toml:1:2: unknown key 'runtme'");
  EXPECT_CONTAINS(error_of("[generation]\n  temprature = 1.0\n"), "deploy.toml:2:3: unknown key 'generation.temprature'");
  EXPECT_CONTAINS(error_of("[[placement.nodes]]\npattern = \"x\"\nbackend = \"reference\"\nwhere = 1\n"),
                  "deploy.toml:4:1: unknown key 'placement.nodes[0].where'");
}

TEST(Config, WrongTypesAndValues) {
  EXPECT_CONTAINS(error_of("[runtime]\nmax_batch = \"8\"\n"), "deploy.toml:2:13: runtime.max_batch: expected an integer, got a string");
  EXPECT_CONTAINS(error_of("[runtime]\nmax_batch = 0\n"), "deploy.toml:2:13: runtime.max_batch: must be between 1 and 4096, got 0");
  EXPECT_CONTAINS(error_of("[runtime]\nbackends = []\n"), "runtime.backends: must name at least one backend");
  EXPECT_CONTAINS(error_of("[runtime]\nbackends = [\"cpu\", 3]\n"), "deploy.toml:2:20: runtime.backends: expected an array of strings");
  EXPECT_CONTAINS(error_of("[runtime]\nlog_level = \"loud\"\n"), "runtime.log_level: 'loud' is not one of");
  EXPECT_CONTAINS(error_of("[runtime]\nspeculative = \"eagle\"\n"), "runtime.speculative: 'eagle' is not one of");
  EXPECT_CONTAINS(error_of("[runtime]\nkv_cache_dtype = \"f16\"\n"), "deploy.toml:2:18: runtime.kv_cache_dtype: 'f16' is not one of: f32, bf16");
  EXPECT_CONTAINS(error_of("[generation]\ntop_p = 1.5\n"), "deploy.toml:2:9: generation.top_p: must be between 0 and 1");
  EXPECT_CONTAINS(error_of("runtime = 3\n"), "deploy.toml:1:11: runtime: expected a table");
  EXPECT_CONTAINS(error_of("[server]\ncors_origins = [\"https://app.example/\"]\n"),
                  "deploy.toml:2:16: server.cors_origins: 'https://app.example/' is not an origin");
  EXPECT_CONTAINS(error_of("[server]\ncors_origins = [\"app.example\"]\n"), "server.cors_origins: 'app.example' is not an origin");
  EXPECT_CONTAINS(error_of("[server]\ncors_origins = \"*\"\n"), "server.cors_origins: expected an array of strings");
}

TEST(Config, PlacementStaysInsideTheBackendList) {
  EXPECT_CONTAINS(error_of("[runtime]\nbackends = [\"cpu\", \"reference\"]\n[placement]\nops = { matmul = \"cuda\" }\n"),
                  "deploy.toml:4:18: placement.ops.matmul: backend 'cuda' is not in runtime.backends");
  EXPECT_CONTAINS(error_of("[placement]\nops = { matmull = \"reference\" }\n"), "placement.ops.matmull: unknown op kind");
  EXPECT_CONTAINS(error_of("[[placement.nodes]]\nbackend = \"reference\"\n"), "placement.nodes[0].pattern: missing");
}

// "auto" picks among cuda, hip, cpu and reference: a rule may name any of them (whether it loaded
// is known only at placement), nothing else; and "auto" cannot be mixed with names.
TEST(Config, AutoBackendsStandAloneAndBoundPlacement) {
  Config c = parse_config("[runtime]\nbackends = [\"auto\"]\n[placement]\nops = { moe_experts = \"cpu\", matmul = \"cuda\" }\n",
                          "deploy.toml");
  EXPECT_TRUE(c.runtime.auto_backends());
  EXPECT_EQ(c.placement.size(), 2u);
  EXPECT_CONTAINS(error_of("[placement]\nops = { matmul = \"template\" }\n"),
                  "deploy.toml:2:18: placement.ops.matmul: backend 'template' is not one runtime.backends = [\"auto\"] picks "
                  "from (cuda, hip, cpu, reference)");
  EXPECT_CONTAINS(error_of("[runtime]\nbackends = [\"auto\", \"cpu\"]\n"),
                  "runtime.backends: \"auto\" stands alone");
  EXPECT_CONTAINS(error_of("[runtime]\nbackends = [\"cpu\", \"auto\"]\n"),
                  "runtime.backends: \"auto\" stands alone");
}

// --set KEY=VALUE on the command line: over the defaults, or over a file's keys (its other keys
// kept, tables merged key by key), validated like the file; errors name the override.
TEST(Config, OverridesReplaceKeysAsIfTheFileSaidSo) {
  Config d = load_config("", {"runtime.kv_cache_dtype=bf16", "runtime.max_batch=2", "runtime.backends=[\"cpu\"]",
                              "placement.ops.moe_experts=cpu", "server.api_key=secret"});
  EXPECT_EQ(d.runtime.kv_cache_dtype, DType::bf16);  // a bare word is a string
  EXPECT_EQ(d.runtime.max_batch, 2);
  EXPECT_EQ(d.runtime.backends, std::vector<std::string>{"cpu"});
  ASSERT_EQ(d.placement.size(), 1u);
  EXPECT_EQ(d.placement[0].backend, "cpu");
  EXPECT_EQ(d.server.api_key, "secret");
  EXPECT_TRUE(load_config("", {}).runtime.auto_backends());

  const auto dir = std::filesystem::temp_directory_path() / ("fathom_config_set_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "deploy.toml";
  std::ofstream(file) << "[runtime]\nbackends = [\"cpu\", \"reference\"]\nmax_batch = 4\nmax_seq_len = 512\n"
                         "[backend.cpu]\nthreads = 2\n";
  Config c = load_config(file, {"runtime.max_batch=6", "backend.cpu.weights=\"bf16\""});
  EXPECT_EQ(c.runtime.max_batch, 6);
  EXPECT_EQ(c.runtime.max_seq_len, 512);  // kept
  ASSERT_NE(c.backend_table("cpu"), nullptr);
  EXPECT_EQ(c.backend_table("cpu")->values->get("threads")->value<int64_t>(), 2);
  EXPECT_EQ(c.backend_table("cpu")->values->get("weights")->value<std::string>(), "bf16");

  auto error = [&](const std::vector<std::string>& overrides) {
    try {
      load_config(file, overrides);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_CONTAINS(error({"runtime.max_batch=0"}), "--set runtime.max_batch=0: runtime.max_batch: must be between 1 and 4096, got 0");
  EXPECT_CONTAINS(error({"runtime.max_bach=3"}), "--set runtime.max_bach=3: unknown key 'runtime.max_bach'");
  EXPECT_CONTAINS(error({"runtime.backends=[\"cpu\","}), "--set runtime.backends=[\"cpu\",: not TOML");
  EXPECT_CONTAINS(error({"runtime.max_batch"}), "--set runtime.max_batch: expected KEY=VALUE");
  EXPECT_CONTAINS(error({"placement.ops.matmul=cuda"}), "--set placement.ops.matmul=cuda: placement.ops.matmul: backend 'cuda' is not in runtime.backends");
  // The file's own mistakes still name the file and line.
  std::ofstream(file) << "[runtime]\nmax_batch = 4\nmax_bach = 5\n";
  EXPECT_CONTAINS(error({"runtime.max_seq_len=64"}), "deploy.toml:3:1: unknown key 'runtime.max_bach'");
  std::filesystem::remove_all(dir);
}

TEST(Config, MissingFileIsNotFound) {
  try {
    load_config("/nonexistent/deploy.toml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
    EXPECT_CONTAINS(std::string(e.what()), "/nonexistent/deploy.toml");
  }
}

// Every key the loader knows is really read (a wrong type is reported against that key, not as
// unknown) and is documented in docs/configuration.md.
TEST(Config, EveryKnownKeyIsReadAndDocumented) {
  std::ifstream doc(std::string(FATHOM_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(doc) << "docs/configuration.md is missing";
  std::stringstream text;
  text << doc.rdbuf();
  for (const std::string& key : config_known_keys()) {
    size_t dot = key.find('.');
    std::string table = key.substr(0, dot), name = key.substr(dot + 1);
    EXPECT_CONTAINS(text.str(), "`" + key + "`");
    if (name.find('.') != std::string::npos || key == "placement.ops" || key == "placement.nodes") continue;
    std::string err = error_of("[" + table + "]\n" + name + " = {}\n");
    EXPECT_CONTAINS(err, key + ": expected");
  }
}

TEST(Config, EveryShippedConfigLoads) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(FATHOM_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".toml") continue;
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(load_config(entry.path()));
    ++n;
  }
  EXPECT_GE(n, 1);
}

// The CLI turns a bad file into a message with line:column and a non-zero exit.
TEST(Config, CliExitsNonZeroOnBadConfig) {
  auto dir = std::filesystem::temp_directory_path() / "fathom_config_test";
  std::filesystem::create_directories(dir);
  auto file = dir / "bad.toml";
  std::ofstream(file) << "[runtime]\nbackends = [\"reference\"]\nmax_batchh = 2\n";
  std::string cmd = std::string(FATHOM_BINARY_DIR) + "/bin/fathom backends --config " + file.string() + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) output.append(buf.data(), n);
  int status = pclose(pipe);
  EXPECT_NE(WEXITSTATUS(status), 0) << output;
  EXPECT_CONTAINS(output, "bad.toml:3:1: unknown key 'runtime.max_batchh'");
}

}  // namespace
}  // namespace fathom
