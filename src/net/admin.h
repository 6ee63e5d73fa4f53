// Small JSON admin APIs (the gateway's tenants API, the controller's objects API): the answers
// they build and the bearer-token check they share.
//
//   if (!BearerTokenMatches(request, token)) return ErrorResponse(Unauthenticated("..."));
//   return JsonResponse(http::status::ok, body);
#pragma once

#include <boost/beast/http/status.hpp>
#include <string>
#include <string_view>

#include "base/error.h"
#include "net/http.h"

namespace brix::net {

// A response with a JSON body.
Response JsonResponse(boost::beast::http::status status, std::string body);

// OpenAI's error envelope for `error` with HttpStatusFor(error.code), or with `status` when given.
Response ErrorResponse(const Error& error, unsigned status = 0);

// Whether the request carries `Authorization: Bearer <token>` for `token` (compared in constant
// time, so a wrong guess's timing says nothing about how much of it was right). An empty token
// matches nothing.
bool BearerTokenMatches(const Request& request, std::string_view token);

}  // namespace brix::net
