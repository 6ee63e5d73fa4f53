// net_echo_server: answers every GET with a fixed text/plain body over keep-alive, to compare
// brix::net's request rate with nginx's under wrk (see src/net/README.md).
//
//   net_echo_server --port 8080 --workers 1 --body-bytes 13
//
// Runs until SIGINT or SIGTERM, then drains and exits.
#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "net/server.h"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

struct Flags {
  uint16_t port = 8080;
  int workers = 1;
  size_t body_bytes = 13;
};

bool ParseNumber(std::string_view text, auto& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Accepts "--name value" and "--name=value".
bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    bool ok = false;
    if (arg == "--port") {
      ok = ParseNumber(value, flags.port);
    } else if (arg == "--workers") {
      ok = ParseNumber(value, flags.workers);
    } else if (arg == "--body-bytes") {
      ok = ParseNumber(value, flags.body_bytes);
    }
    if (!ok) {
      std::fprintf(stderr, "bad flag '%s'\nusage: %s [--port N] [--workers N] [--body-bytes N]\n",
                   argv[i], argv[0]);
      return false;
    }
  }
  return true;
}

asio::awaitable<void> Answer(std::shared_ptr<const std::string> body, brix::net::Request request,
                             brix::net::ResponseWriter writer) {
  brix::net::Response response(http::status::ok, request.version());
  if (request.method() != http::verb::get) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET");
  } else {
    response.set(http::field::content_type, "text/plain");
    response.body() = *body;
  }
  co_await writer.Send(std::move(response));
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) return 2;
  auto body = std::make_shared<const std::string>(flags.body_bytes, 'x');
  brix::net::ServerConfig config;
  config.address = "0.0.0.0";
  config.port = flags.port;
  config.workers = flags.workers;
  config.drain_timeout = std::chrono::seconds(5);
  brix::net::Server server(config,
                           [body](brix::net::Request request, brix::net::ResponseWriter writer) {
                             return Answer(body, std::move(request), std::move(writer));
                           });
  auto port = server.Start();
  if (!port) {
    std::fprintf(stderr, "%s\n", port.error().ToString().c_str());
    return 1;
  }
  std::printf("net_echo_server: port %u, %d worker(s), %zu-byte body\n", *port, flags.workers,
              flags.body_bytes);
  std::fflush(stdout);

  asio::io_context signals_context;
  asio::signal_set signals(signals_context, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code&, int) {});
  signals_context.run();
  server.Stop();
  return 0;
}
