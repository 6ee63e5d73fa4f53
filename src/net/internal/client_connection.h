// ClientConnection: one HttpClient connection to an upstream, with the response parser, the
// call's deadline timer and the read buffers. ConnectionPool: the idle connections of one
// HttpClient, by host:port.
//
// Ownership: shared_ptrs held by the call using the connection (or the pool while idle), and by
// the deadline timer's callback while armed. Thread: the client's executor only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.h"
#include "net/client.h"
#include "net/http.h"

namespace brix::net::internal {

class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  ClientConnection(boost::asio::any_io_executor executor, HostPort upstream,
                   const ClientConfig& config);

  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  const std::string& key() const { return key_; }
  boost::asio::ip::tcp::socket& socket() { return socket_; }

  // Arms the deadline of a call: when it passes, pending operations are cancelled and
  // timed_out() becomes true. TimePoint::max() means none.
  void ArmDeadline(TimePoint deadline);
  void DisarmDeadline();
  bool timed_out() const { return timed_out_; }

  // Resolves the host (unless it is an IP literal) and connects.
  boost::asio::awaitable<Result<void>> Connect();

  // Writes `request` (head and body) in two steps: WriteRequestNow() writes what the socket
  // takes at once and returns true when done (all written, or failed: *ec); otherwise
  // WriteRequestRest() writes the rest after the *written bytes and returns the error, if any,
  // and the bytes written in all. No bytes written means the server cannot have seen the
  // request. The head is the request's own, plus `host` as Host unless empty, with framing from
  // the body (HttpClient::Send() says which); the request's Content-Length and
  // Transfer-Encoding fields are not sent.
  bool WriteRequestNow(const Request& request, std::string_view host, size_t* written,
                       boost::system::error_code* ec);
  boost::asio::awaitable<std::pair<boost::system::error_code, size_t>> WriteRequestRest(
      const Request& request, size_t written);

  // Starts a response: remembers whether the request allows keeping the connection, and
  // whether it was HEAD (whose response has no body).
  void BeginResponse(bool request_keep_alive, bool head_request);
  // Reads until the response header is complete, skipping interim (1xx) responses.
  boost::asio::awaitable<Result<void>> ReadHeader();
  // Moves the parsed status line and fields out.
  ResponseHead TakeHead();
  std::optional<uint64_t> content_length() const;
  // The next decoded body bytes (a view into this connection, valid until the next call); an
  // empty view once the body is complete.
  boost::asio::awaitable<Result<std::string_view>> ReadBody();
  // ReadBody() from what is already received, without waiting: nullopt when it needs more bytes.
  std::optional<Result<std::string_view>> ReadBuffered();
  bool body_done() const;
  // Bytes received since BeginResponse(); 0 means the server sent nothing back.
  size_t bytes_received() const { return bytes_received_; }

  // Whether the connection can carry another request: the response was read completely, both
  // sides want keep-alive, and nothing unexpected arrived.
  bool reusable() const;
  // Whether the server closed (or wrote to) this idle connection; costs one non-blocking peek.
  bool IsStale();
  TimePoint idle_since() const { return idle_since_; }
  void MarkIdle(TimePoint now) { idle_since_ = now; }

  // Maps a failed operation to an Error: cancellation -> DeadlineExceeded when the deadline
  // fired, else Cancelled; anything else -> Unavailable.
  Error ErrorFor(const boost::system::error_code& ec, std::string_view doing) const;

  // Disarms the deadline and closes the socket.
  void Close();

 private:
  Error Malformed(const boost::system::error_code& ec) const;
  void ResetParser();

  const HostPort upstream_;
  const std::string key_;  // upstream_.ToString()
  const size_t max_header_bytes_;
  const size_t read_chunk_bytes_;
  boost::asio::ip::tcp::socket socket_;
  std::optional<boost::asio::ip::tcp::resolver> resolver_;  // only while resolving
  boost::asio::steady_timer deadline_timer_;
  uint64_t deadline_generation_ = 0;
  bool timed_out_ = false;

  std::string head_;                  // the request head being written; capacity reused
  boost::beast::flat_buffer buffer_;  // received, not yet parsed
  std::optional<boost::beast::http::response_parser<boost::beast::http::buffer_body>> parser_;
  std::unique_ptr<char[]> chunk_;  // decoded body bytes handed out by ReadBody()
  size_t bytes_received_ = 0;
  bool request_keep_alive_ = true;
  bool head_request_ = false;
  bool eof_ = false;
  bool failed_ = false;
  TimePoint idle_since_;
};

class ConnectionPool {
 public:
  ConnectionPool(size_t max_idle_per_host, std::chrono::milliseconds idle_timeout,
                 std::chrono::milliseconds stale_check_after);

  // A live idle connection for `key`, most recently used first, or nullptr. Expired and stale
  // connections met on the way are closed (only those idle for stale_check_after are checked).
  std::shared_ptr<ClientConnection> Take(const std::string& key);
  // Keeps `connection` for reuse if it is reusable and there is room, else closes it.
  void Put(std::shared_ptr<ClientConnection> connection);
  // Closes all idle connections; later Put()s close theirs (the client is gone).
  void Close();
  size_t idle() const;

 private:
  // Closes connections idle longer than idle_timeout_, at most once per idle_timeout_.
  void MaybeSweep(ClientConnection::TimePoint now);

  const size_t max_idle_per_host_;
  const std::chrono::milliseconds idle_timeout_;
  const std::chrono::milliseconds stale_check_after_;
  // Per key, oldest first.
  std::unordered_map<std::string, std::vector<std::shared_ptr<ClientConnection>>> idle_;
  ClientConnection::TimePoint last_sweep_;
  bool closed_ = false;
};

}  // namespace brix::net::internal
