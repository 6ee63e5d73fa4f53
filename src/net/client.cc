#include "net/client.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <optional>
#include <utility>

#include "base/check.h"
#include "net/internal/client_connection.h"

namespace brix::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using internal::ClientConnection;

bool IsIdempotent(const Request& request) {
  switch (request.method()) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::trace:
    case http::verb::put:
    case http::verb::delete_:
      return true;
    default:
      return request.find("Idempotency-Key") != request.end();
  }
}

// Closes a connection when the scope is left early (an error or an exception), so that the
// deadline timer's reference does not keep its socket open until the deadline.
class CloseUnlessReleased {
 public:
  explicit CloseUnlessReleased(std::shared_ptr<ClientConnection>& connection)
      : connection_(connection) {}
  ~CloseUnlessReleased() {
    if (!released_ && connection_) connection_->Close();
  }
  CloseUnlessReleased(const CloseUnlessReleased&) = delete;
  CloseUnlessReleased& operator=(const CloseUnlessReleased&) = delete;
  void Release() { released_ = true; }

 private:
  std::shared_ptr<ClientConnection>& connection_;
  bool released_ = false;
};

// What an exception from the Asio machinery (thrown into our coroutine when the caller was
// cancelled) becomes.
Error FromException(const std::exception& e) {
  if (const auto* system = dynamic_cast<const boost::system::system_error*>(&e);
      system != nullptr && system->code() == asio::error::operation_aborted) {
    return Cancelled("call cancelled");
  }
  return Internal(fmt::format("http client: {}", e.what()));
}

}  // namespace

std::string HostPort::ToString() const {
  // By hand rather than fmt::format: the client builds its pool key with it on every call.
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out;
  out.reserve(host.size() + 8);
  if (ipv6) out.push_back('[');
  out.append(host);
  if (ipv6) out.push_back(']');
  out.push_back(':');
  char digits[8];
  const auto end = std::to_chars(digits, digits + sizeof(digits), port).ptr;
  out.append(digits, end);
  return out;
}

StreamingResponse::StreamingResponse(ResponseHead head,
                                     std::shared_ptr<internal::ClientConnection> connection,
                                     std::shared_ptr<internal::ConnectionPool> pool)
    : head_(std::move(head)),
      status_(head_.result_int()),
      connection_(std::move(connection)),
      pool_(std::move(pool)) {
  if (connection_->body_done()) Complete();
}

StreamingResponse::StreamingResponse(StreamingResponse&& other) noexcept = default;

StreamingResponse& StreamingResponse::operator=(StreamingResponse&& other) noexcept {
  if (this != &other) {
    if (connection_) connection_->Close();
    head_ = std::move(other.head_);
    status_ = other.status_;
    connection_ = std::move(other.connection_);
    pool_ = std::move(other.pool_);
    done_ = other.done_;
    error_ = std::move(other.error_);
  }
  return *this;
}

StreamingResponse::~StreamingResponse() {
  // The rest of the body is still on the wire: the connection cannot be reused.
  if (connection_) connection_->Close();
}

asio::awaitable<Result<std::string_view>> StreamingResponse::Read() {
  if (done_) co_return std::string_view();
  if (error_) co_return *error_;
  BRIX_CHECK(connection_ != nullptr) << "Read() on a moved-from StreamingResponse";
  Result<std::string_view> bytes = std::string_view();
  // Bytes already received need no nested coroutine (a whole small response arrives with its
  // header).
  if (std::optional<Result<std::string_view>> buffered = connection_->ReadBuffered()) {
    bytes = *buffered;
  } else {
    try {
      bytes = co_await connection_->ReadBody();
    } catch (const std::exception& e) {
      bytes = FromException(e);
    }
  }
  if (!bytes) {
    error_ = bytes.error();
    connection_->Close();
    connection_.reset();
    co_return *error_;
  }
  if (bytes->empty()) Complete();
  co_return *bytes;
}

void StreamingResponse::Complete() {
  done_ = true;
  pool_->Put(std::move(connection_));
  connection_.reset();
}

HttpClient::HttpClient(asio::any_io_executor executor, ClientConfig config)
    : executor_(std::move(executor)),
      config_(config),
      pool_(std::make_shared<internal::ConnectionPool>(
          config_.max_idle_per_host, config_.idle_timeout, config_.stale_check_after)) {}

HttpClient::~HttpClient() { pool_->Close(); }

ClientStats HttpClient::Stats() const {
  return ClientStats{.connections_opened = connections_opened_,
                     .connections_reused = connections_reused_,
                     .retries = retries_,
                     .idle_connections = pool_->idle()};
}

asio::awaitable<Result<Response>> HttpClient::Send(HostPort upstream, Request request,
                                                   Deadline deadline) {
  std::optional<Result<Response>> result;
  try {
    result.emplace(co_await SendImpl(std::move(upstream), std::move(request), deadline));
  } catch (const std::exception& e) {
    result.emplace(FromException(e));
  }
  co_return std::move(*result);
}

asio::awaitable<Result<StreamingResponse>> HttpClient::Open(HostPort upstream,
                                                            const Request& request,
                                                            Deadline deadline) {
  // One coroutine rather than a wrapper around another: this runs for every proxied request.
  std::optional<Result<StreamingResponse>> result;
  try {
    auto exchanged = co_await Exchange(std::move(upstream), request, deadline);
    if (!exchanged) {
      result.emplace(exchanged.error());
    } else {
      std::shared_ptr<ClientConnection> connection = std::move(*exchanged);
      ResponseHead head = connection->TakeHead();
      result.emplace(StreamingResponse(std::move(head), std::move(connection), pool_));
    }
  } catch (const std::exception& e) {
    result.emplace(FromException(e));
  }
  co_return std::move(*result);
}

asio::awaitable<Result<Response>> HttpClient::SendImpl(HostPort upstream, Request request,
                                                       Deadline deadline) {
  auto exchanged = co_await Exchange(std::move(upstream), request, deadline);
  if (!exchanged) co_return exchanged.error();
  std::shared_ptr<ClientConnection> connection = std::move(*exchanged);
  CloseUnlessReleased guard(connection);

  std::string body;
  if (const auto length = connection->content_length(); length) {
    if (*length > config_.max_body_bytes) {
      co_return ResourceExhausted(fmt::format("response body from {} is {} bytes (limit {})",
                                              connection->key(), *length, config_.max_body_bytes));
    }
    body.reserve(static_cast<size_t>(*length));
  }
  while (true) {
    auto bytes = co_await connection->ReadBody();
    if (!bytes) co_return bytes.error();
    if (bytes->empty()) break;
    if (body.size() + bytes->size() > config_.max_body_bytes) {
      co_return ResourceExhausted(fmt::format("response body from {} exceeds {} bytes",
                                              connection->key(), config_.max_body_bytes));
    }
    body.append(*bytes);
  }
  Response response(connection->TakeHead());
  response.body() = std::move(body);
  guard.Release();
  pool_->Put(std::move(connection));
  co_return response;
}

asio::awaitable<Result<std::shared_ptr<ClientConnection>>> HttpClient::Exchange(
    HostPort upstream, const Request& request, Deadline deadline) {
  std::string host;  // written when the request has no Host
  if (request.find(http::field::host) == request.end()) {
    host = upstream.port == 80
               ? (upstream.host.find(':') != std::string::npos ? fmt::format("[{}]", upstream.host)
                                                               : upstream.host)
               : upstream.ToString();
  }
  const bool idempotent = IsIdempotent(request);
  const bool head_request = request.method() == http::verb::head;
  const bool keep_alive = request.keep_alive();
  const std::string key = upstream.ToString();

  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<ClientConnection> connection;
    if (attempt == 0) connection = pool_->Take(key);
    const bool reused = connection != nullptr;
    if (!reused) connection = std::make_shared<ClientConnection>(executor_, upstream, config_);
    CloseUnlessReleased guard(connection);
    if (reused) {
      connection->ArmDeadline(deadline);
      ++connections_reused_;
    } else {
      ++connections_opened_;
      const auto connect_deadline =
          config_.connect_timeout.count() > 0
              ? std::min(deadline, std::chrono::steady_clock::now() + config_.connect_timeout)
              : deadline;
      connection->ArmDeadline(connect_deadline);
      auto connected = co_await connection->Connect();
      if (!connected) {
        if (connected.error().code == Errc::kDeadlineExceeded && connect_deadline < deadline) {
          co_return Error{Errc::kUnavailable,
                          fmt::format("connecting to {}: no connection within {} ms", key,
                                      config_.connect_timeout.count())};
        }
        co_return connected.error();
      }
      if (connect_deadline != deadline) connection->ArmDeadline(deadline);
    }

    size_t written = 0;
    boost::system::error_code write_ec;
    if (!connection->WriteRequestNow(request, host, &written, &write_ec)) {
      auto [rest_ec, total] = co_await connection->WriteRequestRest(request, written);
      write_ec = rest_ec;
      written = total;
    }
    if (write_ec) {
      // Nothing of the request left this host, so the server cannot have acted on it.
      if (reused && written == 0 && write_ec != asio::error::operation_aborted) {
        ++retries_;
        continue;
      }
      co_return connection->ErrorFor(write_ec, "sending the request to");
    }

    connection->BeginResponse(keep_alive, head_request);
    auto header = co_await connection->ReadHeader();
    if (!header) {
      // The server closed the pooled connection as the request went out; safe to repeat only
      // when repeating cannot do harm.
      if (reused && idempotent && connection->bytes_received() == 0 &&
          header.error().code == Errc::kUnavailable) {
        ++retries_;
        continue;
      }
      co_return header.error();
    }
    guard.Release();
    co_return connection;
  }
}

}  // namespace brix::net
