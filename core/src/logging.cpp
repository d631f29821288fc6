#include "fathom/core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

#include "fathom/core/error.h"

namespace fathom {

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_color_mt("fathom");
    l->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    l->set_level(spdlog::level::warn);
    return l;
  }();
  return *logger;
}

void set_log_level(std::string_view level) {
  static const std::pair<std::string_view, spdlog::level::level_enum> levels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  for (const auto& [name, value] : levels) {
    if (name == level) {
      log().set_level(value);
      return;
    }
  }
  throw invalid_argument("unknown log level '" + std::string(level) +
                         "' (expected trace, debug, info, warn, error or off)");
}

}  // namespace fathom
