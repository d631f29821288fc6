#include "toml_reader.h"

#include <sstream>

#include "fathom/core/error.h"

namespace fathom::detail {

namespace {
const char* type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

SourceLocation location_in(const toml::source_region& source, const std::string& file) {
  // A value from a command-line override: named after it, with no lines to count.
  if (source.path && source.path->rfind(kOverrideSourcePrefix, 0) == 0) return SourceLocation{*source.path, 0, 0};
  return SourceLocation{file, static_cast<int64_t>(source.begin.line), static_cast<int64_t>(source.begin.column)};
}

}  // namespace

SourceLocation location_of(const toml::node& node, const std::string& file) { return location_in(node.source(), file); }

TomlTableReader::TomlTableReader(const toml::table& table, std::string path, std::string file)
    : table_(table), path_(std::move(path)), file_(std::move(file)) {}

const toml::node* TomlTableReader::find(const std::string& key) {
  asked_.insert(key);
  return table_.get(key);
}

SourceLocation TomlTableReader::where(const std::string& key) const {
  if (const toml::node* node = table_.get(key)) return location_of(*node, file_);
  return location_of(table_, file_);
}

void TomlTableReader::fail(const std::string& key, const std::string& message) const {
  std::string name = path_.empty() ? key : path_ + "." + key;
  throw invalid_argument(where(key).str() + ": " + name + ": " + message);
}

void TomlTableReader::type_error(const std::string& key, const char* expected, const toml::node& got) const {
  fail(key, std::string("expected ") + expected + ", got " + type_name(got));
}

std::optional<std::string> TomlTableReader::string(const std::string& key) {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  if (!node->is_string()) type_error(key, "a string", *node);
  return node->as_string()->get();
}

std::optional<int64_t> TomlTableReader::integer(const std::string& key, int64_t min, int64_t max) {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  if (!node->is_integer()) type_error(key, "an integer", *node);
  int64_t v = node->as_integer()->get();
  if (v < min || v > max) {
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + std::to_string(v));
  }
  return v;
}

std::optional<double> TomlTableReader::number(const std::string& key, double min, double max) {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  double v;
  if (node->is_floating_point()) v = node->as_floating_point()->get();
  else if (node->is_integer()) v = static_cast<double>(node->as_integer()->get());
  else type_error(key, "a number", *node);
  if (!(v >= min && v <= max)) {  // also rejects NaN
    std::ostringstream msg;
    msg << "must be between " << min << " and " << max << ", got " << v;
    fail(key, msg.str());
  }
  return v;
}

std::optional<bool> TomlTableReader::boolean(const std::string& key) {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  if (!node->is_boolean()) type_error(key, "a boolean", *node);
  return node->as_boolean()->get();
}

std::optional<std::vector<std::string>> TomlTableReader::string_array(const std::string& key) {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  if (!node->is_array()) type_error(key, "an array of strings", *node);
  std::vector<std::string> out;
  for (const toml::node& item : *node->as_array()) {
    if (!item.is_string()) {
      throw invalid_argument(location_of(item, file_).str() + ": " + path_ + "." + key +
                             ": expected an array of strings, found " + type_name(item) + " in it");
    }
    out.push_back(item.as_string()->get());
  }
  return out;
}

const toml::table* TomlTableReader::table(const std::string& key) {
  const toml::node* node = find(key);
  if (!node) return nullptr;
  if (!node->is_table()) type_error(key, "a table", *node);
  return node->as_table();
}

const toml::array* TomlTableReader::array(const std::string& key) {
  const toml::node* node = find(key);
  if (!node) return nullptr;
  if (!node->is_array()) type_error(key, "an array", *node);
  return node->as_array();
}

std::optional<std::string> TomlTableReader::choice(const std::string& key, const std::vector<std::string>& allowed) {
  auto v = string(key);
  if (!v) return v;
  for (const auto& a : allowed) {
    if (a == *v) return v;
  }
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  fail(key, "'" + *v + "' is not one of: " + list);
}

void TomlTableReader::reject_unknown_keys() const {
  for (const auto& [key, node] : table_) {
    std::string k(key.str());
    if (asked_.count(k)) continue;
    std::string known;
    for (const auto& a : asked_) known += (known.empty() ? "" : ", ") + a;
    std::string name = path_.empty() ? k : path_ + "." + k;
    const SourceLocation at = key.source().begin.line != 0 ? location_in(key.source(), file_) : location_of(node, file_);
    throw invalid_argument(at.str() + ": unknown key '" + name + "'" +
                           (known.empty() ? "" : " (known keys here: " + known + ")"));
  }
}

}  // namespace fathom::detail
