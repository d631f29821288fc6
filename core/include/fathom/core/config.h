// The deployment file: which backends run, in what order, where each op goes, and the
// defaults for generation and serving. Every key is documented in docs/configuration.md.
//
// Loading validates everything that can be checked without plugins: syntax, unknown keys,
// types, ranges, and that placement names only listed backends. Errors name the file and
// line:column. The [backend.<name>] tables are checked later against the keys each plugin
// declares (see PluginHost), because only the plugin knows them.
#pragma once

#include <toml++/toml.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fathom/core/dtype.h"

namespace fathom {

// Where a value came from, for messages: "deploy.toml:12:5".
struct SourceLocation {
  std::string file;
  int64_t line = 0;  // 0: a place without lines (a command-line override); str() is the file alone
  int64_t column = 0;
  std::string str() const;
};

// What a command-line override's values are named after in messages: "--set KEY=VALUE".
inline constexpr const char* kOverrideSourcePrefix = "--set ";

// `runtime.backends = ["auto"]` (the default): the chain is whichever of these load here, in
// this order — the GPUs first, the cpu backend, and the reference backend last for anything the
// others decline. A plugin outside this list (a new backend, a test double) is used only when named.
inline constexpr const char* kAutoBackend = "auto";
inline constexpr std::array<const char*, 4> kAutoBackendCandidates{"cuda", "hip", "cpu", "reference"};

struct RuntimeConfig {
  // The fallback chain, first = preferred; or {"auto"} (kAutoBackendCandidates that load).
  std::vector<std::string> backends{kAutoBackend};
  bool auto_backends() const { return backends.size() == 1 && backends.front() == kAutoBackend; }
  std::vector<std::filesystem::path> plugin_path;  // searched before the executable's folder
  std::string log_level = "warn";
  int64_t max_batch = 8;       // concurrent sequences (KV-cache slots)
  int64_t max_seq_len = 4096;  // tokens per sequence (prompt + generated)
  // "off"; "mtp": speculative decoding with the model's MTP module (loads it); "ngram": drafts
  // looked up in the sequence's own earlier tokens. The output stays the model's own either way.
  std::string speculative = "off";
  // Drafting stops once more sequences than this run at once (0 = never stops).
  int64_t speculative_max_batch = 0;
  // Draft tokens per step, at most; 0 (absent) = the method's default: 3 for "ngram", 1 for "mtp".
  int64_t speculative_tokens = 0;
  // Prompt tokens prefilled per engine step (0 = whole prompts): bounds the pause a long prompt
  // causes to the sequences already decoding.
  int64_t prefill_chunk = 512;
  // A new request reuses the cache entries of the longest prefix a free slot holds.
  bool prefix_caching = true;
  // Element type of the latent KV cache (every MLA layer's [latent ; k_pe] rows): f32, or bf16
  // for half the memory per token (each entry rounded once, when written).
  DType kv_cache_dtype = DType::f32;
};

// One [placement] override: every node whose op kind (ops) or node name (nodes, glob with
// '*' and '?') matches goes to `backend`.
struct PlacementRule {
  enum class Kind { op, node } kind;
  std::string match;
  std::string backend;
  SourceLocation where;
};

struct GenerationConfig {
  double temperature = 0.6;  // DeepSeek-R1's recommendation
  double top_p = 0.95;
  int64_t top_k = 0;         // 0 = off
  double min_p = 0.0;
  double repetition_penalty = 1.0;
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  int64_t max_new_tokens = 512;
  std::optional<int64_t> seed;  // unset = random
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  int64_t port = 8080;
  std::string api_key;  // empty = no authentication
  int64_t max_body_bytes = 1 << 20;
  int64_t max_queue = 64;  // waiting requests beyond the running batch; more get 503
  // Origins whose browser pages may call the API ("https://app.example", or "*" for any): their
  // requests get CORS headers and preflights are answered. Empty: no CORS headers.
  std::vector<std::string> cors_origins;
};

// A [backend.<name>] table, kept as parsed so that the plugin's declared keys can be checked
// with source positions once the plugin is loaded. `values` points into Config::document
// (toml++ drops source positions when a node is copied, so the parsed tree is kept whole).
struct BackendTable {
  std::string name;
  const toml::table* values = nullptr;
  SourceLocation where;
};

struct Config {
  std::filesystem::path source;  // empty for the built-in defaults
  std::shared_ptr<const toml::table> document;  // the parsed file; backend tables point into it
  RuntimeConfig runtime;
  std::vector<PlacementRule> placement;  // node rules first, then op rules, each in file order
  GenerationConfig generation;
  ServerConfig server;
  std::map<std::string, BackendTable> backend_tables;

  const BackendTable* backend_table(const std::string& name) const;
};

// Reads and validates a deployment file. Throws fathom::Error (not_found, invalid_argument)
// with "file:line:column: key: what is wrong".
Config load_config(const std::filesystem::path& path);
// Same, from text; `name` stands for the file in messages.
Config parse_config(std::string_view text, const std::string& name);

// Command-line overrides (`--set KEY=VALUE`): each replaces one key of the file (or of the
// defaults, `path` empty) as if the file said so, and the result is validated as a whole.
// KEY is a dotted TOML key (runtime.max_batch, backend.cpu.threads, placement.ops.moe_experts);
// VALUE is TOML (4, true, "bf16", ["cpu", "reference"]), and a bare word that is not TOML is
// taken as a string (kv_cache_dtype=bf16). An error in an override names it: "--set
// runtime.max_batch=0: runtime.max_batch: must be between 1 and 4096, got 0".
Config load_config(const std::filesystem::path& path, const std::vector<std::string>& overrides);
// Same, from text (`name` stands for the file in messages).
Config parse_config(std::string_view text, const std::string& name, const std::vector<std::string>& overrides);
// The defaults, as if from an empty file.
Config default_config();

// Every key the loader knows, as "table.key", for the documentation check.
std::vector<std::string> config_known_keys();

}  // namespace fathom
