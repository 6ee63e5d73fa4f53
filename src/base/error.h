// Error handling for all of Brix: a closed set of error codes, an Error value, and Result<T>.
//
// Expected failures (bad input, a peer that is down, a missing object) are returned as
// Result<T>; exceptions never cross a component boundary. Bugs are BRIX_CHECK (base/check.h).
#pragma once

#include <boost/system/result.hpp>
#include <string>
#include <string_view>
#include <utility>

namespace brix {

// The closed set of failure kinds. Each maps to exactly one HTTP status (net/http_status.h owns
// that mapping) and one OpenAI error `type`.
enum class Errc {
  kInvalidArgument,     // the caller sent something malformed or out of range
  kNotFound,            // the named object does not exist
  kAlreadyExists,       // the object to create exists already
  kFailedPrecondition,  // the system is not in a state where the call can succeed
  kResourceExhausted,   // a quota, limit or capacity was reached (413, 429, ...)
  kUnavailable,         // a dependency cannot be reached now; retrying may help
  kDeadlineExceeded,    // the call's deadline passed before it finished
  kCancelled,           // the caller gave up
  kUnauthenticated,     // no or invalid credentials
  kPermissionDenied,    // valid credentials without access to this object
  kInternal,            // an invariant broke in a dependency; not the caller's fault
};

// Stable lower_snake_case name of a code, e.g. "invalid_argument".
std::string_view ErrcName(Errc code);

struct Error {
  Errc code = Errc::kInternal;
  std::string message;

  // "invalid_argument: <message>"
  std::string ToString() const;

  friend bool operator==(const Error&, const Error&) = default;
};

// Result<T> holds either a T or an Error. Calling value() on an error is a bug and aborts
// (see throw_exception_from_error below); test with has_value()/has_error() or `if (r)` first.
template <typename T>
using Result = boost::system::result<T, Error>;

// Convenience constructors: `return InvalidArgument("port must be > 0");`
inline Error MakeError(Errc code, std::string message) { return Error{code, std::move(message)}; }
inline Error InvalidArgument(std::string m) { return {Errc::kInvalidArgument, std::move(m)}; }
inline Error NotFound(std::string m) { return {Errc::kNotFound, std::move(m)}; }
inline Error AlreadyExists(std::string m) { return {Errc::kAlreadyExists, std::move(m)}; }
inline Error FailedPrecondition(std::string m) { return {Errc::kFailedPrecondition, std::move(m)}; }
inline Error ResourceExhausted(std::string m) { return {Errc::kResourceExhausted, std::move(m)}; }
inline Error Unavailable(std::string m) { return {Errc::kUnavailable, std::move(m)}; }
inline Error DeadlineExceeded(std::string m) { return {Errc::kDeadlineExceeded, std::move(m)}; }
inline Error Cancelled(std::string m) { return {Errc::kCancelled, std::move(m)}; }
inline Error Unauthenticated(std::string m) { return {Errc::kUnauthenticated, std::move(m)}; }
inline Error PermissionDenied(std::string m) { return {Errc::kPermissionDenied, std::move(m)}; }
inline Error Internal(std::string m) { return {Errc::kInternal, std::move(m)}; }

// Found by ADL when Result<T>::value() is called on an error. Brix builds treat that as a bug:
// it logs the error and aborts instead of throwing.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

}  // namespace brix
