// Errc -> HTTP status, and the OpenAI error envelope every error response of Brix carries.
//
// This file is the one place that maps brix::Errc to HTTP. The envelope follows OpenAI and vLLM:
//
//   {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": 400}}
//
// where `code` is the HTTP status as an integer (vLLM's convention) and `type` is OpenAI's error
// type for that status. Pure functions; safe to call from any thread.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace brix::net {

// Client Closed Request (nginx's non-standard code): the caller gave up before the answer.
inline constexpr unsigned kStatusClientClosedRequest = 499;

// The HTTP status for `code`: InvalidArgument 400, NotFound 404, AlreadyExists 409,
// FailedPrecondition 400, ResourceExhausted 429, Unavailable 503, DeadlineExceeded 504,
// Cancelled 499, Unauthenticated 401, PermissionDenied 403, Internal 500.
unsigned HttpStatusFor(Errc code);

// OpenAI's error `type` for an HTTP status: 401 "authentication_error", 403 "permission_error",
// 404 "not_found_error", 429 "rate_limit_error", any other 4xx "invalid_request_error", and
// "server_error" for 5xx (and anything else).
std::string_view ErrorTypeForStatus(unsigned status);

// The error envelope for `status` and a human-readable `message` (any bytes; escaped as JSON).
std::string ErrorBody(unsigned status, std::string_view message);

// The error envelope for `error`, with status HttpStatusFor(error.code).
std::string ErrorBody(const Error& error);

}  // namespace brix::net
