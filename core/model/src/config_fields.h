// Typed access to the fields of a JSON object read from config.json, with errors that name the
// file and the field ("config.json: field 'rope_scaling.factor' must be a number, got string").
// A field holding null counts as absent, as Hugging Face treats it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fathom::model::detail {

struct IntRange {
  std::int64_t min;
  std::int64_t max;
};

class ConfigFields {
 public:
  // `prefix` is prepended to field names in messages ("rope_scaling." for a nested object).
  ConfigFields(const nlohmann::json& object, std::string source, std::string prefix = "");

  bool has(std::string_view key) const;  // present and not null
  const nlohmann::json* find(std::string_view key) const;  // nullptr when absent or null

  std::int64_t required_int(std::string_view key, IntRange range) const;
  std::int64_t optional_int(std::string_view key, std::int64_t fallback, IntRange range) const;
  double optional_number(std::string_view key, double fallback) const;
  double optional_positive_number(std::string_view key, double fallback) const;
  bool optional_bool(std::string_view key, bool fallback) const;
  std::optional<std::string> optional_string(std::string_view key) const;

  // "config.json: field 'x'" — the start of every message about a field.
  std::string field(std::string_view key) const;
  std::string type_error(std::string_view key, std::string_view expected, const nlohmann::json& got) const;
  std::string range_error(std::string_view key, std::int64_t value, IntRange range) const;
  const std::string& source() const { return source_; }
  const std::string& prefix() const { return prefix_; }

 private:
  std::int64_t to_int(std::string_view key, const nlohmann::json& v, IntRange range) const;

  const nlohmann::json& object_;
  std::string source_;
  std::string prefix_;
};

}  // namespace fathom::model::detail
