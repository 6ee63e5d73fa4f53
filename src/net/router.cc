#include "net/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "base/check.h"
#include "net/http_status.h"

namespace brix::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

struct RouteTable {
  struct Route {
    std::string path;
    std::vector<std::pair<http::verb, Handler>> methods;
    std::string allow;  // the Allow field value for 405
  };
  std::vector<Route> routes;  // sorted by path
  Handler default_handler;
};

asio::awaitable<void> DefaultNotFound(Request request, ResponseWriter writer) {
  co_await writer.SendError(
      brix::NotFound(fmt::format("no route for {}", TargetPath(request.target()))));
}

asio::awaitable<void> MethodNotAllowed(Request request, ResponseWriter writer, std::string allow) {
  const std::string_view path = TargetPath(request.target());
  const unsigned status = static_cast<unsigned>(http::status::method_not_allowed);
  Response response(http::status::method_not_allowed, request.version());
  response.set(http::field::allow, allow);
  response.set(http::field::content_type, "application/json");
  response.body() = ErrorBody(status, fmt::format("method {} is not allowed for {}",
                                                  std::string_view(request.method_string()), path));
  co_await writer.Send(std::move(response));
}

// Not a coroutine: it hands back the chosen handler's awaitable, so routing adds no coroutine
// frame and no copy of the request. The handlers live in `table`, which the Server keeps (inside
// the handler Build() returned) until its last connection has ended, so they outlive the request.
asio::awaitable<void> Dispatch(const RouteTable& table, Request&& request, ResponseWriter writer) {
  const std::string_view path = TargetPath(request.target());
  const auto it = std::lower_bound(
      table.routes.begin(), table.routes.end(), path,
      [](const RouteTable::Route& route, std::string_view p) { return route.path < p; });
  if (it == table.routes.end() || it->path != path) {
    return table.default_handler(std::move(request), std::move(writer));
  }
  for (const auto& [method, handler] : it->methods) {
    if (method == request.method()) return handler(std::move(request), std::move(writer));
  }
  return MethodNotAllowed(std::move(request), std::move(writer), it->allow);
}

}  // namespace

std::string_view TargetPath(std::string_view target) {
  return target.substr(0, target.find_first_of("?#"));
}

void Router::Add(http::verb method, std::string path, Handler handler) {
  BRIX_CHECK(!path.empty() && path.front() == '/') << "route path must start with '/': " << path;
  BRIX_CHECK(handler != nullptr) << "empty handler for " << path;
  auto it =
      std::lower_bound(routes_.begin(), routes_.end(), path,
                       [](const Route& route, const std::string& p) { return route.path < p; });
  if (it == routes_.end() || it->path != path) it = routes_.insert(it, Route{.path = path});
  for (const auto& entry : it->methods) {
    BRIX_CHECK(entry.first != method)
        << "route " << http::to_string(method) << " " << path << " added twice";
  }
  it->methods.emplace_back(method, std::move(handler));
}

void Router::SetDefault(Handler handler) {
  BRIX_CHECK(handler != nullptr) << "empty default handler";
  default_handler_ = std::move(handler);
}

Handler Router::Build() const {
  auto table = std::make_shared<RouteTable>();
  for (const Route& route : routes_) {
    std::vector<std::string_view> names;
    for (const auto& entry : route.methods) names.push_back(http::to_string(entry.first));
    table->routes.push_back(RouteTable::Route{.path = route.path,
                                              .methods = route.methods,
                                              .allow = fmt::format("{}", fmt::join(names, ", "))});
  }
  table->default_handler = default_handler_ ? default_handler_ : Handler(DefaultNotFound);
  std::shared_ptr<const RouteTable> frozen = std::move(table);
  return [frozen](Request request, ResponseWriter writer) {
    return Dispatch(*frozen, std::move(request), std::move(writer));
  };
}

}  // namespace brix::net
