#include "cmd/admin_client.h"

#include <fmt/core.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace brix::cmd {

namespace asio = boost::asio;
namespace http = boost::beast::http;

std::optional<net::HostPort> ParseAdminUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  if (url.ends_with('/')) url.remove_suffix(1);
  const size_t colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = url.substr(0, colon);
  std::string_view port = url.substr(colon + 1);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  if (host.empty() || host.find_first_of("/@?#[]") != std::string_view::npos) return std::nullopt;
  unsigned value = 0;
  if (port.empty() || port.size() > 5) return std::nullopt;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return net::HostPort(std::string(host), static_cast<uint16_t>(value));
}

std::string Segment(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Result<std::string> ReadAdminToken(const std::string& file, std::string_view flag) {
  std::string token;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return InvalidArgument(fmt::format("{}: cannot read {}", flag, file));
    token.assign(std::istreambuf_iterator<char>(in), {});
  } else if (const char* env = std::getenv("BRIX_ADMIN_TOKEN")) {
    token = env;
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) {
    return InvalidArgument(fmt::format("no admin token: pass {} or set $BRIX_ADMIN_TOKEN", flag));
  }
  return token;
}

Result<net::Response> AdminCall(const net::HostPort& upstream, const std::string& token,
                                http::verb method, std::string path, std::string body) {
  net::Request request{method, path, 11};
  request.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = std::move(body);
  asio::io_context io;
  net::HttpClient client(io.get_executor());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto done =
      asio::co_spawn(io, client.Send(upstream, std::move(request), deadline), asio::use_future);
  io.run();
  return done.get();
}

std::string ErrorText(const net::Response& response) {
  const std::string& text = response.body();
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (!ec && v.is_object()) {
    if (const auto* m = v.as_object().if_contains("error"); m && m->is_object()) {
      if (const auto* s = m->as_object().if_contains("message"); s && s->is_string()) {
        return std::string(s->as_string());
      }
    }
  }
  return text;
}

}  // namespace brix::cmd
