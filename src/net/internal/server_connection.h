// ServerConnection: one accepted TCP connection of the server. It reads requests, runs the
// handler for each, writes the responses, and enforces the timeouts and limits of ServerConfig.
//
// Ownership: shared_ptrs held by its Run() coroutine's completion handler and by its outstanding
// callbacks (the deadline watchdog and the disconnect monitor); it is destroyed when the last of
// them completes. Its Worker keeps it in an intrusive list (unlinked in the destructor) so that
// draining can reach it. Thread: the worker's thread only.
//
// Timeouts use one "lazy" watchdog timer per connection: moving the deadline later (the common
// case per request) only stores a time point; the timer is re-armed only when the deadline
// moves earlier. On expiry the watchdog cancels the socket's operations and the coroutine acts
// according to the phase it was in.
//
// While the handler runs, a read stays outstanding on the socket (started only if the handler
// actually suspends) so that a client that disconnects is noticed at once: the handler's
// coroutine then receives terminal cancellation. Bytes that read returns (a pipelined next
// request) stay in the connection's buffer.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/intrusive/list_hook.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/error.h"
#include "net/http.h"
#include "net/internal/request_parser.h"

namespace brix::net {
struct ServerConfig;
}  // namespace brix::net

namespace brix::net::internal {

class Worker;

class ServerConnection : public std::enable_shared_from_this<ServerConnection>,
                         public boost::intrusive::list_base_hook<
                             boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  // `admitted` is false for a connection over max_connections: it is answered 503 and closed.
  ServerConnection(Worker& worker, boost::asio::ip::tcp::socket socket, bool admitted);
  ~ServerConnection();

  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // Serves the connection until it closes. The caller spawns it bound to handler_slot() and
  // keeps a shared_ptr to *this until the returned coroutine completes.
  boost::asio::awaitable<void> Run();
  boost::asio::cancellation_slot handler_slot() { return handler_cancel_.slot(); }

  // Drain: closes the connection now if it is waiting for a new request.
  void OnDrain();
  // Drain timeout: aborts the connection and cancels a running handler.
  void ForceClose();

  // The ResponseWriter operations (see net/server.h), run on the handler's coroutine.
  boost::asio::awaitable<Result<void>> Send(Response response);
  boost::asio::awaitable<Result<void>> StartStream(ResponseHead head);
  boost::asio::awaitable<Result<void>> Write(std::string data);
  boost::asio::awaitable<Result<void>> Finish();
  bool client_gone() const { return peer_gone_; }
  const boost::asio::ip::address& remote_address() const { return remote_address_; }
  bool response_started() const { return response_state_ != ResponseState::kNone; }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;

  // What the connection is doing; decides what a deadline expiry means.
  enum class Phase {
    kIdle,     // waiting for the first byte of a request: expiry closes silently
    kHeader,   // reading a request header: expiry -> 408
    kBody,     // reading a request body: expiry -> 408
    kHandler,  // the handler runs; a deadline is set only while one of its writes is slow
    kWriting,  // writing a response of the server's own (an error, 100 Continue)
    kClosing,  // lingering after the server closed its side
  };
  enum class ResponseState { kNone, kStreaming, kDone };

  // Serves requests until the connection closes.
  boost::asio::awaitable<void> Serve();
  // Reads one request into parser_. Returns false when the connection must close (after
  // answering an error where one is due).
  boost::asio::awaitable<bool> ReadRequest();
  // Reads more bytes into buffer_ (or waits for the disconnect monitor's read, which does).
  boost::asio::awaitable<boost::system::error_code> ReadSome();
  boost::asio::awaitable<void> RunHandler(Request request);
  // After the handler: answers 500 if it did not, ends an unfinished stream.
  boost::asio::awaitable<void> CompleteResponse();
  // Sends an error envelope of the server's own and marks the connection for closing.
  boost::asio::awaitable<void> SendServerError(unsigned status, std::string message);
  // Prepares a whole response for writing: head serialized into head_buffer_, and the buffers
  // to write (the body only where the status and method allow; it stays in `response`).
  std::array<boost::asio::const_buffer, 2> PrepareResponse(Response& response);
  // Prepares and writes a whole response.
  boost::asio::awaitable<boost::system::error_code> WriteResponse(Response response);
  // Writes all of `buffers` (an array of const_buffer): first a non-blocking write on the
  // calling thread (WriteNow), then, only if the socket buffer is full, an asynchronous write
  // bounded by send_timeout (WriteRest, which then reports asio::error::timed_out).
  template <typename Buffers>
  boost::asio::awaitable<boost::system::error_code> WriteAll(Buffers buffers);
  // The non-blocking attempt: true when done (all written, or failed: *ec), false when the rest
  // (after *written bytes) must wait for the socket.
  template <typename Buffers>
  bool WriteNow(const Buffers& buffers, size_t* written, boost::system::error_code* ec);
  template <typename Buffers>
  boost::asio::awaitable<boost::system::error_code> WriteRest(Buffers buffers, size_t written);
  // Shuts down, lingers if appropriate, and closes the socket.
  boost::asio::awaitable<void> Close();

  // Sets version and Connection, drops framing fields (the serializer writes the right ones),
  // decides the body framing of a stream, records whether the connection stays open, and
  // counts the response.
  void PrepareHead(ResponseHead& head, bool streaming);
  Error WriteFailed(const boost::system::error_code& ec);

  void SetDeadline(TimePoint deadline);
  void ArmWatchdog();
  void OnWatchdog();
  void OnTimeout();

  void MaybeStartMonitor(uint64_t generation);
  void OnMonitorRead(const boost::system::error_code& ec, size_t bytes);
  // The connection is unusable (client gone, write failed or stalled, aborted): later writes
  // fail and it closes without lingering.
  void PeerGone();
  // Emits terminal cancellation on the running handler's coroutine, if any.
  void CancelHandler();

  Worker& worker_;
  const ServerConfig& config_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::address remote_address_;  // the peer, read once at accept
  boost::beast::flat_buffer buffer_;         // bytes read and not yet parsed
  RequestParser parser_;
  const bool admitted_;

  Phase phase_ = Phase::kIdle;
  bool closed_ = false;      // Close() finished; callbacks stop re-arming
  bool forced_ = false;      // ForceClose(): no linger, no further responses
  bool eof_ = false;         // the client closed its sending side
  bool peer_gone_ = false;   // the client disconnected or a write failed or stalled
  bool keep_alive_ = false;  // after the current response, read the next request

  // The deadline watchdog.
  boost::asio::steady_timer watchdog_;
  TimePoint deadline_;
  TimePoint armed_;  // expiry of the watchdog's outstanding wait
  bool rearming_ = false;
  bool timed_out_ = false;  // the watchdog fired since the deadline was last set

  // The handler and the disconnect monitor.
  boost::asio::cancellation_signal handler_cancel_;
  uint64_t handler_generation_ = 0;
  bool handler_running_ = false;
  bool handler_threw_ = false;
  bool monitor_active_ = false;
  boost::system::error_code monitor_error_;
  boost::asio::steady_timer monitor_waiter_;  // wakes ReadSome() when the monitor read finishes

  // The current response.
  ResponseState response_state_ = ResponseState::kNone;
  unsigned request_version_ = 11;
  bool request_keep_alive_ = false;
  bool head_request_ = false;
  bool stream_chunked_ = false;  // the streamed response is announced as chunked
  bool stream_body_ = false;     // the streamed response carries a body (not HEAD, 204, 304)
  bool chunked_ = false;         // body bytes are written with chunk framing
  std::string head_buffer_;      // serialized status line and fields, reused across responses
};

}  // namespace brix::net::internal
