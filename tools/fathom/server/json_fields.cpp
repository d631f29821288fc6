#include "server/json_fields.h"

#include <cmath>
#include <limits>

#include "server/api_error.h"

namespace fathom::server {

namespace {

// Shortest text for a range bound: "2" rather than "2.000000".
std::string bound_text(double v) {
  std::string s = nlohmann::json(v).dump();
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

}  // namespace

std::string json_kind(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

const nlohmann::json* JsonFields::find(const std::string& name) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> JsonFields::number(const std::string& name, double min, double max) const {
  const nlohmann::json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw bad_request("'" + name + "' must be a number, not " + json_kind(*v), name);
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < min || x > max) {
    throw bad_request("'" + name + "' must be between " + bound_text(min) + " and " + bound_text(max) + ", got " +
                          v->dump(),
                      name);
  }
  return x;
}

std::optional<int64_t> JsonFields::integer(const std::string& name, int64_t min, int64_t max) const {
  const nlohmann::json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) throw bad_request("'" + name + "' must be an integer, not " + json_kind(*v), name);
  // Unsigned values above int64's range are out of any range this server accepts.
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw bad_request("'" + name + "' is too large", name);
  }
  const int64_t x = v->get<int64_t>();
  if (x < min || x > max) {
    std::string range = max == std::numeric_limits<int64_t>::max() ? "at least " + std::to_string(min)
                                                                    : "between " + std::to_string(min) + " and " +
                                                                          std::to_string(max);
    throw bad_request("'" + name + "' must be " + range + ", got " + std::to_string(x), name);
  }
  return x;
}

std::optional<bool> JsonFields::boolean(const std::string& name) const {
  const nlohmann::json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw bad_request("'" + name + "' must be a boolean, not " + json_kind(*v), name);
  return v->get<bool>();
}

std::optional<std::string> JsonFields::string(const std::string& name) const {
  const nlohmann::json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw bad_request("'" + name + "' must be a string, not " + json_kind(*v), name);
  return v->get<std::string>();
}

std::string JsonFields::required_string(const std::string& name) const {
  auto s = string(name);
  if (!s) throw bad_request("'" + name + "' is required", name);
  return *s;
}

}  // namespace fathom::server
