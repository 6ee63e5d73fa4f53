#include "net/internal/client_connection.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <charconv>
#include <limits>
#include <string>

#include "base/check.h"
#include "net/internal/header_text.h"

namespace brix::net::internal {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;

constexpr size_t kReadSize = 16 * 1024;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

ClientConnection::ClientConnection(asio::any_io_executor executor, HostPort upstream,
                                   const ClientConfig& config)
    : upstream_(std::move(upstream)),
      key_(upstream_.ToString()),
      max_header_bytes_(config.max_header_bytes),
      read_chunk_bytes_(std::max<size_t>(config.read_chunk_bytes, 1)),
      socket_(executor),
      deadline_timer_(executor) {}

void ClientConnection::ArmDeadline(TimePoint deadline) {
  timed_out_ = false;
  const uint64_t generation = ++deadline_generation_;
  if (deadline == TimePoint::max()) return;
  deadline_timer_.expires_at(deadline);
  deadline_timer_.async_wait([self = shared_from_this(), generation](const error_code& ec) {
    // A wait that completed just before DisarmDeadline() is recognised by its generation.
    if (ec || generation != self->deadline_generation_) return;
    self->timed_out_ = true;
    error_code ignored;
    self->socket_.cancel(ignored);
    if (self->resolver_) self->resolver_->cancel();
  });
}

void ClientConnection::DisarmDeadline() {
  ++deadline_generation_;
  deadline_timer_.cancel();
}

asio::awaitable<Result<void>> ClientConnection::Connect() {
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(upstream_.host, ec);
  if (!ec) {
    auto [connect_ec] =
        co_await socket_.async_connect(tcp::endpoint(address, upstream_.port), kTuple);
    if (connect_ec) co_return ErrorFor(connect_ec, "connecting to");
  } else {
    // getaddrinfo runs on Asio's resolver thread and cannot be interrupted: cancellation and the
    // deadline take effect when it returns.
    resolver_.emplace(socket_.get_executor());
    auto [resolve_ec, endpoints] =
        co_await resolver_->async_resolve(upstream_.host, std::to_string(upstream_.port), kTuple);
    resolver_.reset();
    if (!resolve_ec && timed_out_) resolve_ec = asio::error::operation_aborted;
    if (resolve_ec) co_return ErrorFor(resolve_ec, "resolving");
    auto [connect_ec, endpoint] = co_await asio::async_connect(socket_, endpoints, kTuple);
    if (connect_ec) co_return ErrorFor(connect_ec, "connecting to");
  }
  socket_.set_option(tcp::no_delay(true), ec);
  // WriteRequestNow() tries a direct write, which must return would_block rather than wait.
  socket_.non_blocking(true, ec);
  if (ec) co_return ErrorFor(ec, "setting up the connection to");
  co_return Result<void>();
}

namespace {

// Whether a request with this method and body carries Content-Length: Beast's
// prepare_payload() rule (a body, or a method whose body is expected even when empty).
bool SendsContentLength(http::verb method, size_t body_size) {
  return body_size > 0 || method == http::verb::post || method == http::verb::put ||
         method == http::verb::patch || method == http::verb::options;
}

// The request line and fields in HTTP/1.x wire form, ending with the blank line: Host from
// `host` when not empty, Content-Length from the body (the request's own framing fields are
// dropped; the body is always sent whole).
void SerializeRequestHead(const Request& request, std::string_view host, std::string& out) {
  out.clear();
  out.append(request.method_string());
  out.push_back(' ');
  out.append(request.target());
  out.append(request.version() == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  if (!host.empty() && !HasLineBreakOrNul(host)) {
    out.append("Host: ");
    out.append(host);
    out.append("\r\n");
  }
  for (const auto& field : request) {
    const http::field f = field.name();
    if (f == http::field::content_length || f == http::field::transfer_encoding) continue;
    const std::string_view name = field.name_string();
    const std::string_view value = field.value();
    if (HasLineBreakOrNul(name) || HasLineBreakOrNul(value)) continue;
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
  }
  const size_t body = request.body().size();
  if (SendsContentLength(request.method(), body)) {
    out.append("Content-Length: ");
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof(digits), body).ptr;
    out.append(digits, end);
    out.append("\r\n");
  }
  out.append("\r\n");
}

}  // namespace

bool ClientConnection::WriteRequestNow(const Request& request, std::string_view host,
                                       size_t* written, error_code* ec) {
  *written = 0;
  *ec = {};
  // The head is built here rather than by Beast's serializer, which costs several times more
  // per request; the body is written from the request without a copy. The socket is
  // non-blocking: a request usually fits in the socket buffer at once, which saves the round
  // trip through the io_context.
  SerializeRequestHead(request, host, head_);
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_),
                                                  asio::buffer(request.body())};
  *written = socket_.write_some(buffers, *ec);
  if (*ec == asio::error::would_block || *ec == asio::error::try_again) {
    *ec = {};
    return false;
  }
  return *ec || *written == head_.size() + request.body().size();
}

asio::awaitable<std::pair<error_code, size_t>> ClientConnection::WriteRequestRest(
    const Request& request, size_t written) {
  // head_ is what WriteRequestNow() serialized.
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_),
                                                  asio::buffer(request.body())};
  boost::beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(buffers);
  rest.consume(written);
  auto [ec, more] = co_await asio::async_write(socket_, rest, kTuple);
  co_return std::pair{ec, written + more};
}

void ClientConnection::BeginResponse(bool request_keep_alive, bool head_request) {
  request_keep_alive_ = request_keep_alive;
  head_request_ = head_request;
  bytes_received_ = 0;
  ResetParser();
}

void ClientConnection::ResetParser() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(max_header_bytes_, std::numeric_limits<std::uint32_t>::max())));
  parser_->body_limit(boost::none);  // Send() enforces its own limit; Open() has none
  if (head_request_) parser_->skip(true);
}

asio::awaitable<Result<void>> ClientConnection::ReadHeader() {
  BRIX_CHECK(parser_.has_value()) << "ReadHeader() before BeginResponse()";
  while (true) {
    while (buffer_.size() > 0 && !parser_->is_header_done()) {
      error_code ec;
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) co_return Malformed(ec);
    }
    if (parser_->is_header_done()) {
      const unsigned status = parser_->get().result_int();
      if (status >= 200 || status == 101) co_return Result<void>();
      ResetParser();  // an interim response (100 Continue, 103 Early Hints): the real one follows
      continue;
    }
    auto [ec, bytes] = co_await socket_.async_read_some(buffer_.prepare(kReadSize), kTuple);
    buffer_.commit(bytes);
    bytes_received_ += bytes;
    if (ec == asio::error::eof) {
      eof_ = true;
      co_return Unavailable(
          fmt::format("{} closed the connection before the response header", key_));
    }
    if (ec) {
      failed_ = true;
      co_return ErrorFor(ec, "reading the response from");
    }
  }
}

ResponseHead ClientConnection::TakeHead() {
  BRIX_CHECK(parser_ && parser_->is_header_done()) << "no response header";
  // Beast keeps what it still needs (framing, keep-alive) in the parser, not in these fields.
  return std::move(parser_->get().base());
}

std::optional<uint64_t> ClientConnection::content_length() const {
  if (!parser_) return std::nullopt;
  const auto length = parser_->content_length();
  return length ? std::optional<uint64_t>(*length) : std::nullopt;
}

std::optional<Result<std::string_view>> ClientConnection::ReadBuffered() {
  BRIX_CHECK(parser_ && parser_->is_header_done()) << "ReadBody() before the header";
  if (!chunk_) chunk_ = std::make_unique<char[]>(read_chunk_bytes_);
  while (true) {
    if (parser_->is_done()) return std::string_view();
    if (timed_out_) return ErrorFor(asio::error::operation_aborted, "reading the response from");
    if (buffer_.size() == 0) return std::nullopt;
    auto& body = parser_->get().body();
    body.data = chunk_.get();
    body.size = read_chunk_bytes_;
    error_code ec;
    const size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    const size_t produced = read_chunk_bytes_ - body.size;
    if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};
    if (ec) return Malformed(ec);
    if (produced > 0) return std::string_view(chunk_.get(), produced);
    if (parser_->is_done()) return std::string_view();
    if (used == 0) return std::nullopt;  // a partial chunk header: more bytes needed
    // framing only (e.g. a chunk header); parse on
  }
}

asio::awaitable<Result<std::string_view>> ClientConnection::ReadBody() {
  while (true) {
    if (std::optional<Result<std::string_view>> buffered = ReadBuffered()) co_return *buffered;
    auto [ec, bytes] = co_await socket_.async_read_some(buffer_.prepare(kReadSize), kTuple);
    buffer_.commit(bytes);
    bytes_received_ += bytes;
    if (ec == asio::error::eof) {
      eof_ = true;
      // A body without Content-Length or chunking ends with the connection.
      error_code eof_ec;
      parser_->put_eof(eof_ec);
      if (eof_ec) {
        co_return Unavailable(
            fmt::format("{} closed the connection before the response body was complete", key_));
      }
      co_return std::string_view();
    }
    if (ec) {
      failed_ = true;
      co_return ErrorFor(ec, "reading the response from");
    }
  }
}

bool ClientConnection::body_done() const { return parser_ && parser_->is_done(); }

bool ClientConnection::reusable() const {
  return parser_ && parser_->is_done() && parser_->keep_alive() && request_keep_alive_ && !eof_ &&
         !failed_ && !timed_out_ && buffer_.size() == 0 && socket_.is_open();
}

bool ClientConnection::IsStale() {
  if (!socket_.is_open()) return true;
  char byte;
  const ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // Nothing to read is the only healthy answer: 0 is the server's close, and bytes on an idle
  // connection are not a response to anything.
  return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

Error ClientConnection::ErrorFor(const error_code& ec, std::string_view doing) const {
  if (ec == asio::error::operation_aborted) {
    if (timed_out_) return DeadlineExceeded(fmt::format("deadline exceeded {} {}", doing, key_));
    return Cancelled(fmt::format("cancelled {} {}", doing, key_));
  }
  return Unavailable(fmt::format("{} {}: {}", doing, key_, ec.message()));
}

Error ClientConnection::Malformed(const error_code& ec) const {
  if (ec == http::error::header_limit) {
    return Internal(
        fmt::format("response header from {} exceeds {} bytes", key_, max_header_bytes_));
  }
  return Internal(fmt::format("malformed response from {}: {}", key_, ec.message()));
}

void ClientConnection::Close() {
  failed_ = true;
  DisarmDeadline();
  error_code ignored;
  socket_.close(ignored);
}

ConnectionPool::ConnectionPool(size_t max_idle_per_host, std::chrono::milliseconds idle_timeout,
                               std::chrono::milliseconds stale_check_after)
    : max_idle_per_host_(max_idle_per_host),
      idle_timeout_(idle_timeout),
      stale_check_after_(stale_check_after) {}

std::shared_ptr<ClientConnection> ConnectionPool::Take(const std::string& key) {
  const auto now = std::chrono::steady_clock::now();
  MaybeSweep(now);
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& connections = it->second;
  while (!connections.empty()) {
    std::shared_ptr<ClientConnection> connection = std::move(connections.back());
    connections.pop_back();
    const auto idle = now - connection->idle_since();
    if (idle > idle_timeout_ || (idle >= stale_check_after_ && connection->IsStale())) {
      connection->Close();
      continue;
    }
    return connection;
  }
  return nullptr;
}

void ConnectionPool::Put(std::shared_ptr<ClientConnection> connection) {
  const auto now = std::chrono::steady_clock::now();
  connection->DisarmDeadline();
  if (closed_ || !connection->reusable()) {
    connection->Close();
    return;
  }
  auto& connections = idle_[connection->key()];
  if (connections.size() >= max_idle_per_host_) {
    connection->Close();
    return;
  }
  connection->MarkIdle(now);
  connections.push_back(std::move(connection));
  MaybeSweep(now);
}

void ConnectionPool::Close() {
  closed_ = true;
  for (auto& [key, connections] : idle_) {
    for (auto& connection : connections) connection->Close();
  }
  idle_.clear();
}

size_t ConnectionPool::idle() const {
  size_t count = 0;
  for (const auto& [key, connections] : idle_) count += connections.size();
  return count;
}

void ConnectionPool::MaybeSweep(ClientConnection::TimePoint now) {
  if (now - last_sweep_ < idle_timeout_) return;
  last_sweep_ = now;
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& connections = it->second;
    size_t expired = 0;
    while (expired < connections.size() &&
           now - connections[expired]->idle_since() > idle_timeout_) {
      connections[expired]->Close();
      ++expired;
    }
    connections.erase(connections.begin(), connections.begin() + static_cast<ptrdiff_t>(expired));
    it = connections.empty() ? idle_.erase(it) : std::next(it);
  }
}

}  // namespace brix::net::internal
