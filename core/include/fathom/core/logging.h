// Logging through spdlog. One named logger ("fathom") writes to stderr so that stdout stays
// clean for command output (JSON, generated text).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

namespace fathom {

// The process-wide logger; created on first use with level "warn".
spdlog::logger& log();

// Sets the level from a name: trace, debug, info, warn, error, off. Throws
// fathom::Error(invalid_argument) naming the value otherwise.
void set_log_level(std::string_view level);

}  // namespace fathom
