// Typed, range-checked access to the fields of a JSON request object. Every failure is a 400
// ApiError naming the field, in the words an API user would understand.
//
// A field that is absent or JSON null reads as "not given" (nullopt), as in the OpenAI API.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace fathom::server {

class JsonFields {
 public:
  explicit JsonFields(const nlohmann::json& object) : object_(object) {}

  // The raw value; nullptr when absent or null.
  const nlohmann::json* find(const std::string& name) const;

  std::optional<double> number(const std::string& name, double min, double max) const;
  std::optional<int64_t> integer(const std::string& name, int64_t min, int64_t max) const;
  std::optional<bool> boolean(const std::string& name) const;
  std::optional<std::string> string(const std::string& name) const;
  // Throws when the field is missing.
  std::string required_string(const std::string& name) const;

 private:
  const nlohmann::json& object_;
};

// "a number", "a string", ... for messages.
std::string json_kind(const nlohmann::json& value);

}  // namespace fathom::server
