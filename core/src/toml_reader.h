// Reads one TOML table key by key with types, ranges and positions; anything the code did
// not ask for is an unknown key. Internal to core (config loading and plugin options).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fathom/core/config.h"

namespace fathom::detail {

SourceLocation location_of(const toml::node& node, const std::string& file);

class TomlTableReader {
 public:
  // `path` is the dotted table name used in messages ("runtime", "backend.cpu").
  TomlTableReader(const toml::table& table, std::string path, std::string file);

  std::optional<std::string> string(const std::string& key);
  std::optional<int64_t> integer(const std::string& key, int64_t min, int64_t max);
  std::optional<double> number(const std::string& key, double min, double max);  // int or float
  std::optional<bool> boolean(const std::string& key);
  std::optional<std::vector<std::string>> string_array(const std::string& key);
  const toml::table* table(const std::string& key);
  const toml::array* array(const std::string& key);

  // A string that must be one of `allowed`.
  std::optional<std::string> choice(const std::string& key, const std::vector<std::string>& allowed);

  // Throws for the first key in the table that no accessor asked for.
  void reject_unknown_keys() const;

  // "file:line:col: table.key: message" for the key (or the table when the key is absent).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

  SourceLocation where(const std::string& key) const;
  const std::string& file() const { return file_; }

 private:
  const toml::node* find(const std::string& key);
  [[noreturn]] void type_error(const std::string& key, const char* expected, const toml::node& got) const;

  const toml::table& table_;
  std::string path_;
  std::string file_;
  std::set<std::string> asked_;
};

}  // namespace fathom::detail
