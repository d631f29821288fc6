// Errors as the OpenAI API reports them: an HTTP status and the body
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// so that OpenAI clients raise their usual exceptions (BadRequestError, NotFoundError, ...).
//
// ApiError is a fathom::Error that also carries what the HTTP reply needs; code below the HTTP
// layer throws it (or a plain fathom::Error, mapped by api_error_from()).
#pragma once

#include <string>

#include "fathom/core/error.h"

namespace fathom::server {

class ApiError : public Error {
 public:
  // `type`: OpenAI's error type ("invalid_request_error", "server_error", ...); `param`: the
  // request field at fault (empty: null); `code`: a machine-readable code (empty: null).
  ApiError(int status, std::string type, const std::string& message, std::string param = {}, std::string code = {});

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& api_code() const { return api_code_; }

  // The JSON body, serialised.
  std::string body() const;

 private:
  int status_;
  std::string type_;
  std::string param_;
  std::string api_code_;
};

// 400 invalid_request_error about one request field.
ApiError bad_request(const std::string& message, const std::string& param = {}, const std::string& code = {});

// The HTTP view of a library error: invalid_argument → 400, out_of_range → 400
// context_length_exceeded, resource_exhausted → 503, not_found → 404, anything else → 500.
ApiError api_error_from(const Error& e);

// A plain-status error with a fitting default message (404, 405, 413, ...), for replies the
// HTTP library produced itself.
ApiError api_error_for_status(int status, const std::string& detail = {});

}  // namespace fathom::server
