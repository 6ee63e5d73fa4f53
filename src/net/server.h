// Server: an HTTP/1.1 server on Boost.Asio/Beast with C++20 coroutines.
//
//   Server server(ServerConfig{.port = 8080, .workers = 4}, router.Build());
//   Result<uint16_t> port = server.Start();   // binds; errors (e.g. port in use) are returned
//   ...
//   server.Stop();                            // drain in-flight requests, then join workers
//
// Threading: `workers` threads each run their own io_context with their own SO_REUSEPORT
// acceptor, so the kernel spreads new connections over the workers; a connection, its handler
// invocations and its ResponseWriter stay on the worker that accepted it. The Server object is
// owned by its creator; Start(), BeginDrain() and Stop() are called from one controlling thread
// that is not a worker thread; Stats() and port() from any thread.
//
// Per connection the server reads requests with keep-alive and pipelining (HTTP/1.0 and 1.1),
// answers "Expect: 100-continue", enforces the limits and timeouts of ServerConfig, and answers
// protocol errors itself with an OpenAI error envelope (net/http_status.h) and Connection: close:
// 400 malformed, 408 header or body too slow, 413 body too large, 431 header too large, 505
// version not supported, 503 over max_connections.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "net/http.h"

namespace brix::net {

namespace internal {
class ServerConnection;
struct ServerShared;
class Worker;
}  // namespace internal

struct ServerConfig {
  // IP address to listen on (a literal, IPv4 or IPv6; "0.0.0.0" for all IPv4 interfaces).
  std::string address = "127.0.0.1";
  // TCP port; 0 picks a free ephemeral port (Start() returns it).
  uint16_t port = 0;
  // Worker threads, each with its own io_context and acceptor.
  int workers = 1;
  // Let other processes listen on the same address and port, if they set this too: the kernel
  // spreads new connections over every listener (SO_REUSEPORT). For more connections than one
  // process's open-file limit allows (a proxy holds two descriptors per stream), or to start a
  // new process before stopping the old one. Off: a port another socket holds is refused.
  bool share_port = false;
  // Largest request header (request line, fields and the final CRLF) in bytes; more -> 431.
  size_t max_header_bytes = 16 * 1024;
  // Largest request body in bytes (after chunked decoding); more -> 413 and the connection closes.
  size_t max_body_bytes = 16 << 20;
  // Time from the first byte of a request until its whole header has arrived (slowloris
  // defence); on expiry -> 408 and close. Also bounds the wait for a new connection's first byte,
  // which closes silently.
  std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
  // Time from the end of the header until the whole body has arrived; on expiry -> 408 and close.
  std::chrono::milliseconds body_timeout = std::chrono::seconds(60);
  // Time a keep-alive connection may wait for the first byte of its next request; on expiry the
  // connection closes silently.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // Time one write to the client may take (a client that stops reading); on expiry the
  // connection is aborted and a running handler is cancelled.
  std::chrono::milliseconds send_timeout = std::chrono::seconds(30);
  // After the server closes its side, how long it keeps reading (and discarding) what the client
  // still sends, so that the client sees the last response instead of a reset.
  std::chrono::milliseconds linger_timeout = std::chrono::seconds(2);
  // Open client connections across all workers; a connection beyond this is answered 503 and
  // closed (without blocking the accept loop).
  size_t max_connections = 10000;
  // Stop(): time in-flight requests get to finish before their connections are force-closed.
  std::chrono::milliseconds drain_timeout = std::chrono::seconds(30);
};

// Counters since Start(), summed over workers. Each value is exact; values read in one Stats()
// call may be a few increments apart from each other.
struct ServerStats {
  uint64_t open_connections = 0;      // admitted connections not yet closed
  uint64_t accepted_connections = 0;  // admitted connections
  uint64_t rejected_connections = 0;  // connections answered 503 because of max_connections
  uint64_t requests = 0;              // complete requests handed to the handler
  uint64_t responses_2xx = 0;         // final responses by status class, including the ones the
  uint64_t responses_3xx = 0;         // server sends itself (400, 408, 413, 431, 503, ...)
  uint64_t responses_4xx = 0;
  uint64_t responses_5xx = 0;
};

// How a handler answers: either one whole response (Send/SendError), or a streamed one
// (StartStream, any number of Write, Finish) that uses chunked transfer encoding for HTTP/1.1
// clients and the connection close for HTTP/1.0 clients. This is how SSE reaches clients.
//
// A ResponseWriter is a handle into its connection. It is valid until the handler's coroutine
// completes, and is used from that coroutine (the worker thread) only. Exactly one of Send,
// SendError or StartStream must be called at most once (a second call is a bug and aborts);
// if the handler returns without answering, the server sends 500; if it returns in the middle
// of a stream, the server finishes the stream (or aborts the connection if the handler threw).
//
// Every write returns Cancelled once the client is gone (disconnected, reset, or not reading for
// send_timeout). The server also delivers that news while the handler waits on something else:
// it then emits terminal cancellation on the handler's coroutine, so its pending operation
// completes with asio::error::operation_aborted (and, under Asio's default
// throw_if_cancelled(true), later co_awaits throw system_error(operation_aborted), which the
// server treats as a normal end of the handler).
//
// Connection management is the server's: Connection: close is added when the client asked for
// it, when the server is draining, or when the handler set it; Content-Length, Transfer-Encoding
// and Date are set by the writer.
class ResponseWriter {
 public:
  ResponseWriter(ResponseWriter&& other) noexcept;
  ResponseWriter& operator=(ResponseWriter&& other) noexcept;
  ResponseWriter(const ResponseWriter&) = delete;
  ResponseWriter& operator=(const ResponseWriter&) = delete;
  ~ResponseWriter() = default;

  // Sends `response` (status >= 200) with its body. For a HEAD request only the header goes out.
  boost::asio::awaitable<Result<void>> Send(Response response);

  // Sends the OpenAI error envelope for `error` with status HttpStatusFor(error.code).
  boost::asio::awaitable<Result<void>> SendError(Error error);

  // Sends the status line and fields of a streamed response (status >= 200). For SSE set
  // Content-Type: text/event-stream.
  boost::asio::awaitable<Result<void>> StartStream(ResponseHead head);

  // Sends `data` as the next piece of the streamed body (one chunk; empty data sends nothing).
  boost::asio::awaitable<Result<void>> Write(std::string data);

  // Ends the streamed body (the last chunk). The handler should return soon after.
  boost::asio::awaitable<Result<void>> Finish();

  // Whether the client is known to be gone; every further write will fail.
  bool client_gone() const;

  // Whether a response has been started (Send, SendError or StartStream was called).
  bool started() const;

  // The client's IP address (unspecified if the socket could not tell at accept).
  const boost::asio::ip::address& remote_address() const;

 private:
  friend class internal::ServerConnection;
  explicit ResponseWriter(internal::ServerConnection* connection) : connection_(connection) {}

  internal::ServerConnection* connection_;
};

// A request handler: a coroutine that receives the parsed request (body included) and answers
// through the writer. It runs on the connection's worker thread, one request of a connection at
// a time. It should not throw; if it does, the server logs the exception and answers 500 (or
// aborts a started stream).
using Handler = std::function<boost::asio::awaitable<void>(Request, ResponseWriter)>;

class Server {
 public:
  // `handler` is shared by all workers and must be safe to call concurrently from them.
  Server(ServerConfig config, Handler handler);
  // Calls Stop().
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Validates the config, binds and listens on every worker's acceptor, and starts the worker
  // threads. Returns the bound port. Errors: InvalidArgument (bad config or address),
  // Unavailable (e.g. the port is in use), PermissionDenied (e.g. a privileged port). May be
  // called once.
  Result<uint16_t> Start();

  // Starts draining and returns once no new connection will be accepted: the acceptors are
  // closed (new connections are refused), idle keep-alive connections are closed at once, and
  // every response from now on carries Connection: close. Requests in flight continue.
  // Idempotent; a no-op before Start().
  void BeginDrain();

  // BeginDrain(), waits up to drain_timeout for in-flight requests to finish, force-closes the
  // connections still open (their handlers are cancelled), and joins the worker threads.
  // Idempotent; a no-op before Start().
  void Stop();

  // Sets a function that Stop() calls on the controlling thread once every worker thread has
  // finished and before the workers' io_contexts are destroyed: the place to destroy objects
  // bound to the workers' executors (e.g. per-worker HttpClients and their pooled sockets).
  // Call before Start().
  void SetBeforeTeardown(std::function<void()> fn) { before_teardown_ = std::move(fn); }

  // The bound port after a successful Start(), else 0.
  uint16_t port() const { return port_; }

  ServerStats Stats() const;

 private:
  enum class State { kNew, kRunning, kDraining, kStopped };

  // Runs `fn` on every worker's thread and waits for all of them.
  void RunOnWorkers(const std::function<void(internal::Worker&)>& fn);
  // Waits until no connection is open or `timeout` passes; returns whether none is open.
  bool WaitForConnections(std::chrono::milliseconds timeout);
  bool OnWorkerThread() const;

  std::unique_ptr<internal::ServerShared> shared_;
  std::vector<std::unique_ptr<internal::Worker>> workers_;
  State state_ = State::kNew;
  uint16_t port_ = 0;
  std::function<void()> before_teardown_;
};

}  // namespace brix::net
