// A JSON value together with where it was found ("tokenizer.json: model.merges[17]"),
// so that every complaint about a file names the file and the field.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fathom/core/error.h"

namespace fathom::tokenizer {

class JsonField {
 public:
  JsonField(const nlohmann::json& value, std::string file, std::string path = {})
      : value_(&value), file_(std::move(file)), path_(std::move(path)) {}

  const nlohmann::json& json() const { return *value_; }
  // "file: path" (or just "file" at the root).
  std::string where() const { return path_.empty() ? file_ : file_ + ": " + path_; }

  // A member that must be present (and not null).
  JsonField operator[](std::string_view key) const;
  // A member that may be absent; absent and null both give nullopt.
  std::optional<JsonField> find(std::string_view key) const;
  // An element of an array.
  JsonField element(std::size_t index) const;
  // A member of an object reached by iterating it (the key is shown quoted).
  JsonField entry(std::string_view key, const nlohmann::json& value) const;

  bool is_object() const { return value_->is_object(); }
  bool is_array() const { return value_->is_array(); }
  bool is_string() const { return value_->is_string(); }
  bool is_null() const { return value_->is_null(); }
  std::size_t size() const { return value_->size(); }

  // Typed reads: an invalid_argument naming this field when the type is wrong.
  const nlohmann::json& object() const;
  const nlohmann::json& array() const;
  std::string string() const;
  bool boolean() const;
  std::int64_t integer() const;

  // Errors about this field, prefixed with where().
  Error invalid(const std::string& message) const { return invalid_argument(where() + ": " + message); }
  Error unsupported_here(const std::string& message) const { return unsupported(where() + ": " + message); }

 private:
  JsonField child(std::string path_suffix, const nlohmann::json& value) const;

  const nlohmann::json* value_;
  std::string file_;
  std::string path_;
};

// Reads and parses a JSON file; io / not_found / invalid_argument errors name the file.
nlohmann::json read_json_file(const std::string& path);

}  // namespace fathom::tokenizer
