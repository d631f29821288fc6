#include "fathom/core/config.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "fathom/core/error.h"
#include "fathom/core/ops.h"
#include "toml_reader.h"

namespace fathom {

using detail::TomlTableReader;

std::string SourceLocation::str() const {
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const BackendTable* Config::backend_table(const std::string& name) const {
  auto it = backend_tables.find(name);
  return it == backend_tables.end() ? nullptr : &it->second;
}

namespace {

// One reader per table. config_known_keys() at the bottom lists the same keys; the config
// test feeds each listed key a wrong type and expects an error about that key (not "unknown
// key"), and checks that docs/configuration.md documents it, so the three stay in step.
void read_runtime(TomlTableReader& r, RuntimeConfig& rt, const std::filesystem::path& base_dir) {
  if (auto v = r.string_array("backends")) {
    if (v->empty()) r.fail("backends", "must name at least one backend");
    std::set<std::string> seen;
    for (const auto& name : *v) {
      if (!seen.insert(name).second) r.fail("backends", "backend '" + name + "' is listed twice");
      if (name == kAutoBackend && v->size() > 1) {
        r.fail("backends", "\"auto\" stands alone: it picks the chain itself (name the backends instead)");
      }
    }
    rt.backends = *v;
  }
  if (auto v = r.string_array("plugin_path")) {
    rt.plugin_path.clear();
    for (const auto& p : *v) {
      std::filesystem::path path(p);
      // Relative folders are relative to the config file, not to the current directory.
      rt.plugin_path.push_back(path.is_absolute() || base_dir.empty() ? path : base_dir / path);
    }
  }
  if (auto v = r.choice("log_level", {"trace", "debug", "info", "warn", "error", "off"})) rt.log_level = *v;
  if (auto v = r.integer("max_batch", 1, 4096)) rt.max_batch = *v;
  if (auto v = r.integer("max_seq_len", 1, 1 << 24)) rt.max_seq_len = *v;
  if (auto v = r.choice("speculative", {"off", "mtp", "ngram"})) rt.speculative = *v;
  if (auto v = r.integer("speculative_tokens", 1, 16)) rt.speculative_tokens = *v;
  if (auto v = r.integer("speculative_max_batch", 0, 4096)) rt.speculative_max_batch = *v;
  if (auto v = r.integer("prefill_chunk", 0, 1 << 24)) rt.prefill_chunk = *v;
  if (auto v = r.boolean("prefix_caching")) rt.prefix_caching = *v;
  if (auto v = r.choice("kv_cache_dtype", {"f32", "bf16"})) rt.kv_cache_dtype = dtype_from_name(*v);
  r.reject_unknown_keys();
}

void read_placement(TomlTableReader& r, const Config& config, std::vector<PlacementRule>& rules) {
  // Under "auto" a rule may name any backend auto could pick; whether it did is known once the
  // plugins load (graph::place says so then, with this rule's location).
  auto check_backend = [&](TomlTableReader& reader, const std::string& key, const std::string& backend) {
    const bool automatic = config.runtime.auto_backends();
    const auto listed = [&](const auto& names) {
      return std::any_of(names.begin(), names.end(), [&](const auto& b) { return backend == b; });
    };
    if (automatic ? listed(kAutoBackendCandidates) : listed(config.runtime.backends)) return;
    if (automatic) {
      reader.fail(key, "backend '" + backend + "' is not one runtime.backends = [\"auto\"] picks from (cuda, hip, "
                       "cpu, reference); list the chain in runtime.backends to use it");
    }
    reader.fail(key, "backend '" + backend + "' is not in runtime.backends; placement never goes outside that list");
  };
  if (const toml::array* nodes = r.array("nodes")) {
    size_t index = 0;
    for (const toml::node& item : *nodes) {
      std::string path = "placement.nodes[" + std::to_string(index++) + "]";
      if (!item.is_table()) {
        throw invalid_argument(detail::location_of(item, r.file()).str() + ": " + path +
                               ": expected a table {pattern = \"...\", backend = \"...\"}");
      }
      TomlTableReader rule(*item.as_table(), path, r.file());
      auto pattern = rule.string("pattern");
      auto backend = rule.string("backend");
      if (!pattern) rule.fail("pattern", "missing (a node-name glob such as \"layers.*.mlp.experts\")");
      if (!backend) rule.fail("backend", "missing");
      check_backend(rule, "backend", *backend);
      rule.reject_unknown_keys();
      rules.push_back({PlacementRule::Kind::node, *pattern, *backend, rule.where("pattern")});
    }
  }
  if (const toml::table* ops = r.table("ops")) {
    TomlTableReader op_reader(*ops, "placement.ops", r.file());
    for (const auto& [key, node] : *ops) {
      std::string op(key.str());
      if (!op_from_name(op)) {
        std::string known;
        for (uint32_t id : all_ops()) known += (known.empty() ? "" : ", ") + std::string(op_name(id));
        op_reader.fail(op, "unknown op kind (known: " + known + ")");
      }
      auto backend = op_reader.string(op);
      check_backend(op_reader, op, *backend);
      rules.push_back({PlacementRule::Kind::op, op, *backend, op_reader.where(op)});
    }
  }
  r.reject_unknown_keys();
}

void read_generation(TomlTableReader& r, GenerationConfig& g) {
  if (auto v = r.number("temperature", 0.0, 100.0)) g.temperature = *v;
  if (auto v = r.number("top_p", 0.0, 1.0)) g.top_p = *v;
  if (auto v = r.integer("top_k", 0, 1 << 30)) g.top_k = *v;
  if (auto v = r.number("min_p", 0.0, 1.0)) g.min_p = *v;
  if (auto v = r.number("repetition_penalty", 0.01, 100.0)) g.repetition_penalty = *v;
  if (auto v = r.number("presence_penalty", -2.0, 2.0)) g.presence_penalty = *v;
  if (auto v = r.number("frequency_penalty", -2.0, 2.0)) g.frequency_penalty = *v;
  if (auto v = r.integer("max_new_tokens", 1, 1 << 24)) g.max_new_tokens = *v;
  if (auto v = r.integer("seed", 0, INT64_MAX)) g.seed = *v;
  r.reject_unknown_keys();
}

// An origin as browsers send it: scheme "://" host [":" port], nothing after; or "*".
std::string cors_origin_problem(const std::string& origin) {
  if (origin == "*") return {};
  const size_t scheme_end = origin.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0) {
    return "'" + origin + "' is not an origin (scheme://host[:port], e.g. \"https://app.example\", or \"*\")";
  }
  const std::string host = origin.substr(scheme_end + 3);
  if (host.empty() || host.find('/') != std::string::npos) {
    return "'" + origin + "' is not an origin: a browser sends scheme://host[:port] without a path or a trailing slash";
  }
  return {};
}

void read_server(TomlTableReader& r, ServerConfig& s) {
  if (auto v = r.string("host")) s.host = *v;
  if (auto v = r.integer("port", 0, 65535)) s.port = *v;
  if (auto v = r.string("api_key")) s.api_key = *v;
  if (auto v = r.integer("max_body_bytes", 1024, int64_t{1} << 32)) s.max_body_bytes = *v;
  if (auto v = r.integer("max_queue", 0, 1 << 20)) s.max_queue = *v;
  if (auto v = r.string_array("cors_origins")) {
    for (const std::string& origin : *v) {
      if (const std::string why = cors_origin_problem(origin); !why.empty()) r.fail("cors_origins", why);
    }
    s.cors_origins = *v;
  }
  r.reject_unknown_keys();
}

Config read_root(const toml::table& root, const std::string& file, const std::filesystem::path& base_dir) {
  Config config;
  TomlTableReader r(root, "", file);
  // runtime first: placement refers to runtime.backends.
  if (const toml::table* t = r.table("runtime")) {
    TomlTableReader tr(*t, "runtime", file);
    read_runtime(tr, config.runtime, base_dir);
  }
  if (const toml::table* t = r.table("placement")) {
    TomlTableReader tr(*t, "placement", file);
    read_placement(tr, config, config.placement);
    // Node rules are more specific than op-kind rules: they win.
    std::stable_partition(config.placement.begin(), config.placement.end(),
                          [](const PlacementRule& p) { return p.kind == PlacementRule::Kind::node; });
  }
  if (const toml::table* t = r.table("generation")) {
    TomlTableReader tr(*t, "generation", file);
    read_generation(tr, config.generation);
  }
  if (const toml::table* t = r.table("server")) {
    TomlTableReader tr(*t, "server", file);
    read_server(tr, config.server);
  }
  if (const toml::table* t = r.table("backend")) {
    for (const auto& [key, node] : *t) {
      std::string name(key.str());
      if (!node.is_table()) {
        throw invalid_argument(detail::location_of(node, file).str() + ": backend." + name +
                               ": expected a table [backend." + name + "]");
      }
      config.backend_tables[name] = BackendTable{name, node.as_table(), detail::location_of(node, file)};
    }
  }
  r.reject_unknown_keys();
  return config;
}

toml::table parse_toml(std::string_view text, const std::string& name) {
  try {
    return toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    throw invalid_argument(name + ":" + std::to_string(begin.line) + ":" + std::to_string(begin.column) +
                           ": TOML syntax error: " + std::string(e.description()));
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw not_found("config file '" + path.string() + "' cannot be opened (does it exist?)");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "KEY=VALUE" as a one-line TOML document, its nodes named after the override. A VALUE that is
// not TOML but a plain word (bf16, cpu) is read as that string.
toml::table parse_override(const std::string& override_text) {
  const std::string name = kOverrideSourcePrefix + override_text;
  const size_t eq = override_text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw invalid_argument(name + ": expected KEY=VALUE, e.g. --set runtime.max_batch=4 or --set backend.cpu.threads=8");
  }
  const std::string key = override_text.substr(0, eq), value = override_text.substr(eq + 1);
  try {
    return toml::parse(key + " = " + value, name);
  } catch (const toml::parse_error&) {
    const bool plain_word = !value.empty() && value.find_first_of("\"'[]{}=#\\\n") == std::string::npos;
    if (!plain_word) throw;
  }
  return parse_toml(key + " = \"" + value + "\"", name);
}

// Puts every value of `from` into `into`, replacing what is there; tables present in both are
// merged key by key. Nodes are moved, which keeps their source positions (a copy would drop them).
void merge_into(toml::table& into, toml::table&& from) {
  for (auto&& [key, node] : from) {
    toml::node* existing = into.get(key.str());
    if (existing && existing->is_table() && node.is_table()) {
      merge_into(*existing->as_table(), std::move(*node.as_table()));
    } else {
      into.insert_or_assign(key, std::move(node));
    }
  }
}

Config read_document(std::shared_ptr<toml::table> root, const std::string& name) {
  std::filesystem::path base = std::filesystem::path(name).parent_path();
  Config config = read_root(*root, name, base);
  config.source = name;
  config.document = std::move(root);
  return config;
}

}  // namespace

Config parse_config(std::string_view text, const std::string& name) { return parse_config(text, name, {}); }

Config load_config(const std::filesystem::path& path) { return parse_config(read_file(path), path.string()); }

Config parse_config(std::string_view text, const std::string& name, const std::vector<std::string>& overrides) {
  auto root = std::make_shared<toml::table>(parse_toml(text, name));
  for (const std::string& o : overrides) {
    try {
      merge_into(*root, parse_override(o));
    } catch (const toml::parse_error& e) {
      throw invalid_argument(kOverrideSourcePrefix + o + ": not TOML: " + std::string(e.description()));
    }
  }
  // Keys the file did not have are named after their override, those it had after the file.
  return read_document(std::move(root), name);
}

Config load_config(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  if (path.empty()) return overrides.empty() ? default_config() : parse_config("", "(built-in defaults)", overrides);
  return parse_config(read_file(path), path.string(), overrides);
}

Config default_config() { return Config{}; }

std::vector<std::string> config_known_keys() {
  return {
      "runtime.backends", "runtime.plugin_path", "runtime.log_level", "runtime.max_batch", "runtime.max_seq_len",
      "runtime.speculative", "runtime.speculative_max_batch", "runtime.speculative_tokens",
      "runtime.prefill_chunk", "runtime.prefix_caching", "runtime.kv_cache_dtype",
      "placement.ops", "placement.nodes", "placement.nodes.pattern", "placement.nodes.backend",
      "generation.temperature", "generation.top_p", "generation.top_k", "generation.min_p",
      "generation.repetition_penalty", "generation.presence_penalty", "generation.frequency_penalty",
      "generation.max_new_tokens", "generation.seed",
      "server.host", "server.port", "server.api_key", "server.max_body_bytes", "server.max_queue",
      "server.cors_origins",
  };
}

}  // namespace fathom
