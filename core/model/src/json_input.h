// Bounded JSON parsing for files that come from outside: safetensors headers, config.json,
// model.safetensors.index.json. Bounds the nesting depth (nlohmann's DOM is fine with depth,
// but no file we read nests deeper than a few levels, so anything deeper is hostile or broken)
// and the size of files read whole.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fathom::model::detail {

// Parses `text`; throws fathom::Error(invalid_argument) "<what>: <reason>" when it is not JSON or
// nests deeper than `max_depth`.
nlohmann::json parse_json_bounded(std::string_view text, const std::string& what, int max_depth);

// Reads a whole (small) file; throws not_found / io / invalid_argument (over `max_bytes`) naming it.
std::string read_small_file(const std::filesystem::path& path, std::size_t max_bytes);

// A value as JSON text for an error message, cut to about 80 characters (a hostile file can
// put megabytes where a number belongs).
std::string brief_dump(const nlohmann::json& value);

// "object", "array", "string", ... for messages that say what was found instead.
std::string_view json_type_name(const nlohmann::json& value);

// Renders a shape as "[64, 32]".
template <typename Range>
std::string format_shape(const Range& shape) {
  std::string s = "[";
  bool first = true;
  for (auto d : shape) {
    if (!first) s += ", ";
    s += std::to_string(d);
    first = false;
  }
  return s + "]";
}

}  // namespace fathom::model::detail
