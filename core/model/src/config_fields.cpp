#include "config_fields.h"

#include <cmath>

#include "fathom/core/error.h"
#include "json_input.h"

namespace fathom::model::detail {

using nlohmann::json;

ConfigFields::ConfigFields(const json& object, std::string source, std::string prefix)
    : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

const json* ConfigFields::find(std::string_view key) const {
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool ConfigFields::has(std::string_view key) const { return find(key) != nullptr; }

std::string ConfigFields::field(std::string_view key) const {
  return source_ + ": field '" + prefix_ + std::string(key) + "'";
}

std::string ConfigFields::type_error(std::string_view key, std::string_view expected, const json& got) const {
  return field(key) + " must be " + std::string(expected) + ", got " + std::string(json_type_name(got)) + " " +
         brief_dump(got);
}

std::string ConfigFields::range_error(std::string_view key, std::int64_t value, IntRange range) const {
  return field(key) + " = " + std::to_string(value) + " is out of range [" + std::to_string(range.min) + ", " +
         std::to_string(range.max) + "]";
}

std::int64_t ConfigFields::to_int(std::string_view key, const json& v, IntRange range) const {
  if (!v.is_number_integer()) throw invalid_argument(type_error(key, "an integer", v));
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(range.max)) {
    throw invalid_argument(field(key) + " = " + brief_dump(v) + " is out of range [" + std::to_string(range.min) +
                           ", " + std::to_string(range.max) + "]");
  }
  const auto value = v.get<std::int64_t>();
  if (value < range.min || value > range.max) throw invalid_argument(range_error(key, value, range));
  return value;
}

std::int64_t ConfigFields::required_int(std::string_view key, IntRange range) const {
  const json* v = find(key);
  if (v == nullptr) throw invalid_argument(source_ + ": missing required field '" + prefix_ + std::string(key) + "'");
  return to_int(key, *v, range);
}

std::int64_t ConfigFields::optional_int(std::string_view key, std::int64_t fallback, IntRange range) const {
  const json* v = find(key);
  return v == nullptr ? fallback : to_int(key, *v, range);
}

double ConfigFields::optional_number(std::string_view key, double fallback) const {
  const json* v = find(key);
  if (v == nullptr) return fallback;
  if (!v->is_number()) throw invalid_argument(type_error(key, "a number", *v));
  const double d = v->get<double>();
  if (!std::isfinite(d)) throw invalid_argument(field(key) + " must be finite");
  return d;
}

double ConfigFields::optional_positive_number(std::string_view key, double fallback) const {
  const double d = optional_number(key, fallback);
  if (!(d > 0.0)) throw invalid_argument(field(key) + " = " + std::to_string(d) + " must be positive");
  return d;
}

bool ConfigFields::optional_bool(std::string_view key, bool fallback) const {
  const json* v = find(key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) throw invalid_argument(type_error(key, "a boolean", *v));
  return v->get<bool>();
}

std::optional<std::string> ConfigFields::optional_string(std::string_view key) const {
  const json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) throw invalid_argument(type_error(key, "a string", *v));
  return v->get<std::string>();
}

}  // namespace fathom::model::detail
