// The one error type of Fathom's C++ code.
//
// Library code throws fathom::Error; front-ends (CLI, server) catch it, print
// what() and map code() to an exit status or an HTTP status. At the plugin
// boundary the same codes travel as integers (see plugins/include/fathom/plugin_api.h).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace fathom {

// Canonical error codes. The comment on each says when to use it.
enum class ErrorCode : int {
  ok = 0,
  unsupported = 1,          // a valid request this component cannot serve (op, dtype, feature)
  invalid_argument = 2,     // bad input from a user or a file: config, model, request, CLI flag
  not_found = 3,            // a named file, tensor, key or plugin does not exist
  out_of_range = 4,         // an index or size outside its valid range (prompt too long, slot id)
  resource_exhausted = 5,   // out of memory, cache slots or queue space
  failed_precondition = 6,  // called in the wrong state (run before compile, use after destroy)
  unavailable = 7,          // hardware or driver absent (no GPU, probe said no)
  internal = 8,             // a bug in Fathom or a plugin: an invariant did not hold
  io = 9,                   // the operating system refused a read, write or map
};

std::string_view error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}

  ErrorCode code() const noexcept { return code_; }

  // Returns a copy whose message is prefixed with `context: ` — used to add
  // "while loading tensor X" style context as an error travels up.
  Error with_context(std::string_view context) const;

 private:
  ErrorCode code_;
};

// Shorthands that read well at the throw site: throw invalid_argument("...").
inline Error invalid_argument(const std::string& m) { return Error(ErrorCode::invalid_argument, m); }
inline Error not_found(const std::string& m) { return Error(ErrorCode::not_found, m); }
inline Error unsupported(const std::string& m) { return Error(ErrorCode::unsupported, m); }
inline Error internal_error(const std::string& m) { return Error(ErrorCode::internal, m); }
inline Error io_error(const std::string& m) { return Error(ErrorCode::io, m); }
inline Error out_of_range(const std::string& m) { return Error(ErrorCode::out_of_range, m); }
inline Error resource_exhausted(const std::string& m) { return Error(ErrorCode::resource_exhausted, m); }

}  // namespace fathom
