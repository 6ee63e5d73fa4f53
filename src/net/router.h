// Router: dispatches requests to handlers by exact path and method.
//
//   Router router;
//   router.Add(http::verb::post, "/v1/chat/completions", ChatHandler);
//   router.Add(http::verb::get, "/v1/models", ModelsHandler);
//   Server server(config, router.Build());
//
// The path is the request target up to '?'. An unknown path goes to the default handler (by
// default a 404 error envelope); a known path with another method gets 405 with an Allow field.
//
// A Router is configured on one thread and then turned into a Handler by Build(); the Handler
// holds an immutable copy of the table and is safe to call from every worker at once.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/server.h"

namespace brix::net {

class Router {
 public:
  Router() = default;

  // Routes `method` requests for `path` (starting with '/') to `handler`. Adding the same method
  // and path twice is a bug (aborts).
  void Add(boost::beast::http::verb method, std::string path, Handler handler);

  // Handles requests whose path has no route.
  void SetDefault(Handler handler);

  // The handler for the server. Later changes to the Router do not affect it.
  Handler Build() const;

 private:
  struct Route {
    std::string path;
    // Small per path (a handful of methods at most), so a vector beats a map.
    std::vector<std::pair<boost::beast::http::verb, Handler>> methods;
  };

  std::vector<Route> routes_;  // sorted by path
  Handler default_handler_;
};

// The path part of a request target: everything before the first '?' (or '#').
std::string_view TargetPath(std::string_view target);

}  // namespace brix::net
