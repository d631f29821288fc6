#include "fathom/tokenizer/json_field.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fathom::tokenizer {

JsonField JsonField::child(std::string path_suffix, const nlohmann::json& value) const {
  return JsonField(value, file_, path_ + path_suffix);
}

JsonField JsonField::operator[](std::string_view key) const {
  const std::string path = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  const nlohmann::json& self = object();
  const auto it = self.find(key);
  if (it == self.end() || it->is_null()) throw invalid_argument(file_ + ": " + path + ": missing");
  return JsonField(*it, file_, path);
}

std::optional<JsonField> JsonField::find(std::string_view key) const {
  const nlohmann::json& self = object();
  const auto it = self.find(key);
  if (it == self.end() || it->is_null()) return std::nullopt;
  return JsonField(*it, file_, path_.empty() ? std::string(key) : path_ + "." + std::string(key));
}

JsonField JsonField::element(std::size_t index) const { return child("[" + std::to_string(index) + "]", array()[index]); }

JsonField JsonField::entry(std::string_view key, const nlohmann::json& value) const {
  return child("['" + std::string(key) + "']", value);
}

const nlohmann::json& JsonField::object() const {
  if (!value_->is_object()) throw invalid(std::string("must be an object, not ") + value_->type_name());
  return *value_;
}

const nlohmann::json& JsonField::array() const {
  if (!value_->is_array()) throw invalid(std::string("must be a list, not ") + value_->type_name());
  return *value_;
}

std::string JsonField::string() const {
  if (!value_->is_string()) throw invalid(std::string("must be a string, not ") + value_->type_name());
  return value_->get<std::string>();
}

bool JsonField::boolean() const {
  if (!value_->is_boolean()) throw invalid(std::string("must be true or false, not ") + value_->type_name());
  return value_->get<bool>();
}

std::int64_t JsonField::integer() const {
  if (!value_->is_number_integer()) throw invalid(std::string("must be an integer, not ") + value_->type_name());
  if (value_->is_number_unsigned() && value_->get<std::uint64_t>() > INT64_MAX) throw invalid("integer too large");
  return value_->get<std::int64_t>();
}

nlohmann::json read_json_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw not_found(path + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw io_error(path + ": read failed");
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {  // parse errors, and numbers out of range (1e400)
    throw invalid_argument(path + ": not valid JSON: " + e.what());
  }
}

}  // namespace fathom::tokenizer
