#include "base/error.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace brix {

std::string_view ErrcName(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return "invalid_argument";
    case Errc::kNotFound:
      return "not_found";
    case Errc::kAlreadyExists:
      return "already_exists";
    case Errc::kFailedPrecondition:
      return "failed_precondition";
    case Errc::kResourceExhausted:
      return "resource_exhausted";
    case Errc::kUnavailable:
      return "unavailable";
    case Errc::kDeadlineExceeded:
      return "deadline_exceeded";
    case Errc::kCancelled:
      return "cancelled";
    case Errc::kUnauthenticated:
      return "unauthenticated";
    case Errc::kPermissionDenied:
      return "permission_denied";
    case Errc::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Error::ToString() const { return fmt::format("{}: {}", ErrcName(code), message); }

void throw_exception_from_error(const Error& e, const boost::source_location& loc) {
  std::fprintf(stderr, "%s:%u: Result::value() called on an error: %s\n", loc.file_name(),
               static_cast<unsigned>(loc.line()), e.ToString().c_str());
  std::abort();
}

}  // namespace brix
