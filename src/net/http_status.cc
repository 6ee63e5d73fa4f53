#include "net/http_status.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace brix::net {

unsigned HttpStatusFor(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return 400;
    case Errc::kNotFound:
      return 404;
    case Errc::kAlreadyExists:
      return 409;
    case Errc::kFailedPrecondition:
      return 400;
    case Errc::kResourceExhausted:
      return 429;
    case Errc::kUnavailable:
      return 503;
    case Errc::kDeadlineExceeded:
      return 504;
    case Errc::kCancelled:
      return kStatusClientClosedRequest;
    case Errc::kUnauthenticated:
      return 401;
    case Errc::kPermissionDenied:
      return 403;
    case Errc::kInternal:
      return 500;
  }
  return 500;
}

std::string_view ErrorTypeForStatus(unsigned status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    default:
      break;
  }
  if (status >= 400 && status < 500) return "invalid_request_error";
  return "server_error";
}

std::string ErrorBody(unsigned status, std::string_view message) {
  boost::json::object error;
  error["message"] = message;
  error["type"] = ErrorTypeForStatus(status);
  error["param"] = nullptr;
  error["code"] = status;
  boost::json::object envelope;
  envelope["error"] = std::move(error);
  return boost::json::serialize(envelope);
}

std::string ErrorBody(const Error& error) {
  return ErrorBody(HttpStatusFor(error.code), error.message);
}

}  // namespace brix::net
