#include "net/admin.h"

#include <cstdint>

#include "net/http_status.h"

namespace brix::net {

namespace http = boost::beast::http;

Response JsonResponse(http::status status, std::string body) {
  Response response{status, 11};
  response.set(http::field::content_type, "application/json");
  response.body() = std::move(body);
  return response;
}

Response ErrorResponse(const Error& error, unsigned status) {
  if (status == 0) status = HttpStatusFor(error.code);
  return JsonResponse(static_cast<http::status>(status), ErrorBody(status, error.message));
}

bool BearerTokenMatches(const Request& request, std::string_view token) {
  auto auth = request.find(http::field::authorization);
  if (token.empty() || auth == request.end() || !auth->value().starts_with("Bearer ")) {
    return false;
  }
  const std::string_view given = std::string_view(auth->value()).substr(7);
  if (given.size() != token.size()) return false;
  // Every byte is looked at whatever the differences; volatile keeps the compiler from stopping
  // at the first one.
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    diff = diff | static_cast<uint8_t>(given[i] ^ token[i]);
  }
  return diff == 0;
}

}  // namespace brix::net
