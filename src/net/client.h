// HttpClient: an HTTP/1.1 client with a keep-alive connection pool per host:port, for calling
// upstreams (inference engines, the control plane) from coroutines. Plain HTTP only (no TLS).
//
//   HttpClient client(co_await asio::this_coro::executor);
//   Request request(http::verb::post, "/v1/chat/completions", 11);
//   request.set(http::field::content_type, "application/json");
//   request.body() = payload;
//   auto deadline = std::chrono::steady_clock::now() + 30s;
//   Result<StreamingResponse> stream =
//       co_await client.Open({"10.0.0.7", 8000}, request, deadline);
//   while (stream) {                                  // stream->status(), stream->head()
//     Result<std::string_view> bytes = co_await stream->Read();
//     if (!bytes || bytes->empty()) break;            // error, or the body is complete
//     ...                                             // e.g. SseParser::Feed(*bytes)
//   }
//
// Every call has a deadline covering connect, request and the whole response (for Open() also
// every Read()); past it the call returns DeadlineExceeded. A call whose coroutine is cancelled
// (an Asio cancellation slot: awaitable operators, a bound cancellation_signal) stops its pending
// operation and returns Cancelled (or, under Asio's default throw_if_cancelled, the caller's next
// co_await throws). In both cases the connection is closed, never pooled.
//
// Errors: connection refused, reset or closed early, connect_timeout, and unknown hosts ->
// Unavailable;
// deadline -> DeadlineExceeded; cancellation -> Cancelled; a malformed or oversized response
// header -> Internal; a Send() body over max_body_bytes -> ResourceExhausted. HTTP error
// statuses are not errors: they come back as responses.
//
// Pooling: a connection goes back to its pool only after its response was read completely and
// both sides agreed to keep it alive; a pooled connection idle for stale_check_after or more is
// checked for a close by the server before reuse, and one idle longer than idle_timeout is
// closed. If a pooled connection still
// turns out dead (the request could not be written at all, or, for idempotent requests, the
// connection closed before any response byte), the request is retried once on a new connection.
//
// Threading: an HttpClient is bound to one executor, which must be single-threaded (an
// io_context run by one thread, or a strand); it and the StreamingResponses it returns are used
// only from coroutines running on that executor. The caller owns the client and must keep it
// alive while calls are in flight. Use one client per worker thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.h"
#include "net/http.h"

namespace brix::net {

namespace internal {
class ClientConnection;
class ConnectionPool;
}  // namespace internal

// Where to send a request.
struct HostPort {
  // A constructor rather than aggregate initialisation: GCC 12 destroys a braced aggregate
  // temporary passed by value into a coroutine call inside co_await incorrectly.
  HostPort() = default;
  HostPort(std::string host_in, uint16_t port_in) : host(std::move(host_in)), port(port_in) {}

  std::string host;  // DNS name or IP literal (IPv6 without brackets)
  uint16_t port = 80;

  // "host:port", with brackets around an IPv6 literal.
  std::string ToString() const;
};

struct ClientConfig {
  // Idle keep-alive connections kept per host:port; one returned beyond this is closed.
  size_t max_idle_per_host = 32;
  // A pooled connection idle for longer is closed instead of reused. Keep it below the
  // upstream's keep-alive timeout (uvicorn, which vLLM and SGLang use, closes after 5 s).
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(4);
  // A pooled connection idle at least this long is checked for a close by the server (one
  // non-blocking peek, a system call) before reuse; a younger one is reused unchecked. 0 (the
  // default): check every time. A window (the gateway uses 100 ms) takes the check off the hot
  // path of a busy proxy: a server that answered on the connection moments ago closes it only when
  // it dies or shuts down, and then the request fails as Unavailable (or is retried, see above)
  // just as it would if the close came right after a check.
  std::chrono::milliseconds stale_check_after{0};
  // Longest a new connection may take to be established (0 = only the call's deadline). On
  // expiry the call fails with Unavailable, not DeadlineExceeded: the peer is unreachable (a dead
  // host drops SYNs, a hung server's accept queue is full), and another peer may do.
  std::chrono::milliseconds connect_timeout{0};
  // Largest response header (status line and fields) in bytes; more -> Internal.
  size_t max_header_bytes = 64 * 1024;
  // Largest body Send() buffers, in bytes; more -> ResourceExhausted. Open() has no limit.
  size_t max_body_bytes = 64 << 20;
  // Most bytes one StreamingResponse::Read() returns.
  size_t read_chunk_bytes = 16 * 1024;
};

struct ClientStats {
  uint64_t connections_opened = 0;  // new TCP connections
  uint64_t connections_reused = 0;  // calls that took a pooled connection
  uint64_t retries = 0;             // calls retried after a pooled connection turned out dead
  size_t idle_connections = 0;      // pooled now
};

// A response whose body is read incrementally. Returned by HttpClient::Open() once the status
// line and header fields have arrived. Owned by the caller; move-only; used on the client's
// executor. Destroying it before the body is complete closes the connection instead of pooling
// it. It may outlive its HttpClient (its connection is then closed, not pooled).
class StreamingResponse {
 public:
  StreamingResponse(StreamingResponse&& other) noexcept;
  StreamingResponse& operator=(StreamingResponse&& other) noexcept;
  StreamingResponse(const StreamingResponse&) = delete;
  StreamingResponse& operator=(const StreamingResponse&) = delete;
  ~StreamingResponse();

  const ResponseHead& head() const { return head_; }
  unsigned status() const { return status_; }
  // Moves the header fields out (a proxy passing them on); head() is empty afterwards, status()
  // still answers.
  ResponseHead TakeHead() { return std::move(head_); }

  // The next body bytes as they arrive, chunked framing removed, at most read_chunk_bytes. An
  // empty view means the body is complete (the connection then returns to the pool). The view
  // is valid until the next Read() or the destruction of this object. After an error every
  // later Read() returns the same error.
  boost::asio::awaitable<Result<std::string_view>> Read();

  // Whether Read() has reported the end of the body.
  bool done() const { return done_; }

 private:
  friend class HttpClient;
  StreamingResponse(ResponseHead head, std::shared_ptr<internal::ClientConnection> connection,
                    std::shared_ptr<internal::ConnectionPool> pool);
  // The body ended: the connection goes back to the pool.
  void Complete();

  ResponseHead head_;
  unsigned status_ = 0;
  std::shared_ptr<internal::ClientConnection> connection_;
  std::shared_ptr<internal::ConnectionPool> pool_;
  bool done_ = false;
  std::optional<Error> error_;
};

class HttpClient {
 public:
  using Deadline = std::chrono::steady_clock::time_point;

  HttpClient(boost::asio::any_io_executor executor, ClientConfig config = {});
  // Closes the pooled connections. No call may be in flight.
  ~HttpClient();

  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` to `upstream` and returns the whole response. The request goes out with
  // Host from `upstream` when it has none, and its framing from the body: Content-Length (when
  // the body is not empty, or the method is POST, PUT, PATCH or OPTIONS), never the request's
  // own Content-Length or Transfer-Encoding.
  boost::asio::awaitable<Result<Response>> Send(HostPort upstream, Request request,
                                                Deadline deadline);

  // Sends `request` as Send() does and returns once the response header has arrived; read the
  // body with StreamingResponse::Read(). `deadline` also bounds those reads. The request is
  // only read, never moved or changed (a proxy keeps it for a retry elsewhere): it must outlive
  // the co_await, as a named request or a temporary in the co_await expression does.
  boost::asio::awaitable<Result<StreamingResponse>> Open(HostPort upstream, const Request& request,
                                                         Deadline deadline);

  ClientStats Stats() const;

 private:
  // Writes the request and reads the response header, on a pooled or new connection, with the
  // one retry described above. On success the connection's deadline stays armed.
  boost::asio::awaitable<Result<std::shared_ptr<internal::ClientConnection>>> Exchange(
      HostPort upstream, const Request& request, Deadline deadline);
  boost::asio::awaitable<Result<Response>> SendImpl(HostPort upstream, Request request,
                                                    Deadline deadline);

  boost::asio::any_io_executor executor_;
  const ClientConfig config_;
  std::shared_ptr<internal::ConnectionPool> pool_;
  uint64_t connections_opened_ = 0;
  uint64_t connections_reused_ = 0;
  uint64_t retries_ = 0;
};

}  // namespace brix::net
