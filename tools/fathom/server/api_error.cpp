#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace fathom::server {

namespace {

// The fathom::Error code that best describes an HTTP status, so that code catching the base
// class still sees a sensible category.
ErrorCode error_code_for_status(int status) {
  if (status == 404) return ErrorCode::not_found;
  if (status == 413 || status == 429 || status == 503) return ErrorCode::resource_exhausted;
  if (status >= 500) return ErrorCode::internal;
  return ErrorCode::invalid_argument;
}

nlohmann::json null_if_empty(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }

}  // namespace

ApiError::ApiError(int status, std::string type, const std::string& message, std::string param, std::string code)
    : Error(error_code_for_status(status), message),
      status_(status),
      type_(std::move(type)),
      param_(std::move(param)),
      api_code_(std::move(code)) {}

std::string ApiError::body() const {
  nlohmann::json error = {{"message", what()},
                          {"type", type_},
                          {"param", null_if_empty(param_)},
                          {"code", null_if_empty(api_code_)}};
  // Messages may quote user input; replace rather than throw on bytes that are not UTF-8.
  return nlohmann::json{{"error", error}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiError bad_request(const std::string& message, const std::string& param, const std::string& code) {
  return ApiError(400, "invalid_request_error", message, param, code);
}

ApiError api_error_from(const Error& e) {
  if (const auto* api = dynamic_cast<const ApiError*>(&e)) return *api;
  switch (e.code()) {
    case ErrorCode::invalid_argument:
    case ErrorCode::unsupported:
      return bad_request(e.what());
    case ErrorCode::out_of_range:
      return bad_request(e.what(), "messages", "context_length_exceeded");
    case ErrorCode::resource_exhausted:
      return ApiError(503, "server_error", std::string(e.what()) + "; retry later", {}, "server_overloaded");
    case ErrorCode::not_found:
      return ApiError(404, "invalid_request_error", e.what(), {}, "not_found");
    default:
      return ApiError(500, "server_error", e.what());
  }
}

ApiError api_error_for_status(int status, const std::string& detail) {
  auto with_detail = [&](const std::string& message) { return detail.empty() ? message : message + ": " + detail; };
  switch (status) {
    case 400: return bad_request(with_detail("malformed HTTP request"));
    case 401: return ApiError(401, "invalid_request_error", with_detail("invalid API key"), {}, "invalid_api_key");
    case 404: return ApiError(404, "invalid_request_error", with_detail("unknown URL"), {}, "unknown_url");
    case 405: return ApiError(405, "invalid_request_error", with_detail("method not allowed"), {}, "method_not_allowed");
    case 413: return ApiError(413, "invalid_request_error", with_detail("request body too large"), {}, "request_too_large");
    case 415: return ApiError(415, "invalid_request_error", with_detail("unsupported content encoding"));
    case 503: return ApiError(503, "server_error", with_detail("the server is unavailable"), {}, "server_unavailable");
    default:
      if (status >= 500) return ApiError(status, "server_error", with_detail("internal server error"));
      return ApiError(status, "invalid_request_error", with_detail("request failed"));
  }
}

}  // namespace fathom::server
