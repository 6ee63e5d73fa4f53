// The current time as an HTTP Date header value (RFC 9110 IMF-fixdate), cached per thread and
// reformatted at most once per second. Safe to call from any thread.
#pragma once

#include <string_view>

namespace brix::net::internal {

// E.g. "Sun, 06 Nov 1994 08:49:37 GMT". The view is valid until the calling thread calls
// HttpDate() again.
std::string_view HttpDate();

}  // namespace brix::net::internal
