// Calls to an admin API (the gateway's tenants API, the controller's objects API) from a CLI
// command: one request, a 10 s deadline, errors as text.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "net/client.h"
#include "net/http.h"

namespace brix::cmd {

// "http://HOST:PORT" (a trailing slash allowed; IPv6 in brackets).
std::optional<net::HostPort> ParseAdminUrl(std::string_view url);

// A name or id as one URL path segment: anything but unreserved characters percent-encoded, so
// "a/../b" cannot reach another route.
std::string Segment(std::string_view text);

// The admin token from `file` (trailing whitespace dropped) or, without one, $BRIX_ADMIN_TOKEN.
Result<std::string> ReadAdminToken(const std::string& file, std::string_view flag);

// Sends one request with the bearer token. A transport failure is an error; HTTP errors come
// back as responses (see ErrorText).
Result<net::Response> AdminCall(const net::HostPort& upstream, const std::string& token,
                                boost::beast::http::verb method, std::string path,
                                std::string body = {});

// The message of an error response: the OpenAI envelope's error.message, else the body.
std::string ErrorText(const net::Response& response);

}  // namespace brix::cmd
