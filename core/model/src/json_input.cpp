#include "json_input.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "fathom/core/error.h"

namespace fathom::model::detail {
namespace {

struct TooDeep {};  // thrown out of the parser callback; turned into a fathom::Error below

}  // namespace

nlohmann::json parse_json_bounded(std::string_view text, const std::string& what, int max_depth) {
  const auto depth_guard = [max_depth](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > max_depth) throw TooDeep{};
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), depth_guard);
  } catch (const TooDeep&) {
    throw invalid_argument(what + ": JSON nests deeper than " + std::to_string(max_depth) + " levels");
  } catch (const nlohmann::json::exception& e) {
    throw invalid_argument(what + ": not valid JSON: " + e.what());
  }
}

std::string read_small_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw not_found(path.string() + ": no such file");
  if (!std::filesystem::is_regular_file(status)) throw invalid_argument(path.string() + ": not a regular file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw io_error(path.string() + ": cannot read size: " + ec.message());
  if (size > max_bytes) {
    throw invalid_argument(path.string() + ": " + std::to_string(size) + " bytes is larger than the " +
                           std::to_string(max_bytes) + " bytes accepted for this kind of file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(path.string() + ": cannot open: " + std::strerror(errno));
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.gcount() != static_cast<std::streamsize>(text.size())) throw io_error(path.string() + ": short read");
  return text;
}

std::string brief_dump(const nlohmann::json& value) {
  constexpr std::size_t kMax = 80;
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

std::string_view json_type_name(const nlohmann::json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number_float()) return "number";
  return value.type_name();
}

}  // namespace fathom::model::detail
