#include "fathom/core/error.h"

namespace fathom {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok: return "ok";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::invalid_argument: return "invalid argument";
    case ErrorCode::not_found: return "not found";
    case ErrorCode::out_of_range: return "out of range";
    case ErrorCode::resource_exhausted: return "resource exhausted";
    case ErrorCode::failed_precondition: return "failed precondition";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::internal: return "internal error";
    case ErrorCode::io: return "i/o error";
  }
  return "unknown error";
}

Error Error::with_context(std::string_view context) const {
  return Error(code_, std::string(context) + ": " + what());
}

}  // namespace fathom
