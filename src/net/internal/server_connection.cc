#include "net/internal/server_connection.h"

#include <fmt/format.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <charconv>
#include <optional>
#include <string_view>

#include "base/check.h"
#include "net/http_status.h"
#include "net/internal/header_text.h"
#include "net/internal/http_date.h"
#include "net/internal/worker.h"
#include "net/server.h"

namespace brix::net::internal {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

// Bytes asked of each read of a header, and of the read that watches for a disconnect while a
// handler runs. That read holds its buffer for as long as the handler does (minutes, for a
// stream), so it is small; the buffer grows beyond it only for a header that needs it.
constexpr size_t kReadSize = 4 * 1024;
// Bytes asked of each read of a request body (an LLM prompt can be megabytes). The buffer is
// shrunk back once the request is complete.
constexpr size_t kBodyReadSize = 16 * 1024;
// Lingering stops after discarding this much, even before linger_timeout.
constexpr size_t kMaxLingerBytes = 1 << 20;
constexpr Clock::time_point kNever = Clock::time_point::max();
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr std::string_view kCrLf = "\r\n";

bool BodyAllowed(unsigned status) { return status >= 200 && status != 204 && status != 304; }

// Appends `value` in decimal; the per-response path avoids a format-string parser.
void AppendDecimal(std::string& out, uint64_t value) {
  char digits[20];
  const char* end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
  out.append(digits, static_cast<size_t>(end - digits));
}

// The status line, the fields of `head` (minus unsafe ones), the framing fields and Date.
void SerializeHead(const ResponseHead& head, std::optional<size_t> content_length, bool chunked,
                   std::string& out) {
  out.clear();
  out.append(head.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  std::string_view reason = head.reason();
  if (reason.empty() || reason.front() == '<') reason = "Unknown";  // Beast: "<unknown-status>"
  AppendDecimal(out, head.result_int());  // Beast keeps statuses within 100..999
  out.push_back(' ');
  out.append(reason);
  out.append(kCrLf);
  bool has_date = false;
  for (const auto& field : head) {
    const std::string_view name = field.name_string();
    const std::string_view value = field.value();
    if (HasLineBreakOrNul(name) || HasLineBreakOrNul(value)) continue;
    has_date = has_date || field.name() == http::field::date;
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append(kCrLf);
  }
  if (content_length) {
    out.append("Content-Length: ");
    AppendDecimal(out, *content_length);
    out.append(kCrLf);
  }
  if (chunked) out.append("Transfer-Encoding: chunked\r\n");
  if (!has_date) {
    out.append("Date: ");
    out.append(HttpDate());
    out.append(kCrLf);
  }
  out.append(kCrLf);
}

Error ClientGone() { return Cancelled("client disconnected"); }

}  // namespace

ServerConnection::ServerConnection(Worker& worker, asio::ip::tcp::socket socket, bool admitted)
    : worker_(worker),
      config_(worker.shared().config),
      socket_(std::move(socket)),
      parser_(RequestLimits{.max_header_bytes = config_.max_header_bytes,
                            .max_body_bytes = config_.max_body_bytes}),
      admitted_(admitted),
      watchdog_(socket_.get_executor()),
      monitor_waiter_(socket_.get_executor()) {
  boost::system::error_code ec;
  const asio::ip::tcp::endpoint peer = socket_.remote_endpoint(ec);
  if (!ec) remote_address_ = peer.address();
}

ServerConnection::~ServerConnection() { worker_.shared().ConnectionGone(admitted_); }

asio::awaitable<void> ServerConnection::Run() {
  deadline_ = Clock::now() + config_.header_timeout;
  ArmWatchdog();
  bool failed = false;
  try {
    co_await Serve();
  } catch (const std::exception& e) {
    // Only allocation failures and bugs get here; the handler's exceptions are caught earlier.
    worker_.shared().log->error("connection failed: {}", e.what());
    failed = true;
  }
  if (failed) {
    closed_ = true;
    watchdog_.cancel();
    error_code ignored;
    socket_.close(ignored);
  }
}

asio::awaitable<void> ServerConnection::Serve() {
  if (!admitted_) {
    co_await SendServerError(503, "the server is at its connection limit; retry later");
    co_await Close();
    co_return;
  }
  while (true) {
    // (Not `while (co_await ...)`: GCC 12 miscompiles co_await in loop conditions.)
    const bool have_request = co_await ReadRequest();
    if (!have_request) break;
    co_await RunHandler(parser_.Release());
    if (!keep_alive_ || forced_ || peer_gone_) break;
    SetDeadline(Clock::now() + config_.idle_timeout);
  }
  co_await Close();
}

void ServerConnection::OnDrain() {
  if (closed_ || phase_ != Phase::kIdle) return;
  // Waiting for a request that has not started: end the wait; ReadRequest() then closes.
  error_code ignored;
  socket_.cancel(ignored);
}

void ServerConnection::ForceClose() {
  if (closed_) return;
  forced_ = true;
  PeerGone();
  CancelHandler();
  error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.cancel(ignored);
}

asio::awaitable<bool> ServerConnection::ReadRequest() {
  parser_.Start();
  phase_ = Phase::kIdle;
  bool header_deadline_set = false;
  while (true) {
    if (buffer_.size() > 0) {
      if (phase_ == Phase::kIdle) phase_ = Phase::kHeader;
      const ParseStatus status = parser_.Parse(buffer_);
      if (status == ParseStatus::kComplete) {
        // A body read grew the buffer: give the memory back before the handler holds it.
        if (buffer_.capacity() > kReadSize) buffer_.shrink_to_fit();
        co_return true;
      }
      if (status == ParseStatus::kError) {
        co_await SendServerError(parser_.error_status(), std::string(parser_.error_message()));
        co_return false;
      }
      // Deadlines are set only when a request does not arrive in one read, which keeps the
      // common path free of timer operations.
      if (phase_ == Phase::kHeader && parser_.header_done()) {
        phase_ = Phase::kBody;
        SetDeadline(Clock::now() + config_.body_timeout);
        if (parser_.expects_continue()) {
          const error_code ec = co_await WriteAll(std::array<asio::const_buffer, 1>{
              asio::const_buffer(kContinue.data(), kContinue.size())});
          if (ec) co_return false;
        }
      } else if (phase_ == Phase::kHeader && !header_deadline_set) {
        header_deadline_set = true;
        SetDeadline(Clock::now() + config_.header_timeout);
      }
    } else if (worker_.shared().draining.load(std::memory_order_relaxed)) {
      co_return false;  // no new requests while draining
    }
    const error_code ec = co_await ReadSome();
    if (ec) {
      // A timeout mid-request is answered; anything else (EOF, reset, drain, a timeout before
      // the first byte) closes silently.
      if (timed_out_ && (phase_ == Phase::kHeader || phase_ == Phase::kBody)) {
        co_await SendServerError(408, phase_ == Phase::kHeader
                                          ? "request header not received in time"
                                          : "request body not received in time");
      }
      co_return false;
    }
  }
}

asio::awaitable<error_code> ServerConnection::ReadSome() {
  if (monitor_active_) {
    // The disconnect monitor's read is still outstanding; it reads into buffer_ as well.
    monitor_waiter_.expires_at(kNever);
    co_await monitor_waiter_.async_wait(kTuple);
    co_return std::exchange(monitor_error_, {});
  }
  if (monitor_error_) co_return std::exchange(monitor_error_, {});
  const size_t want = phase_ == Phase::kBody ? kBodyReadSize : kReadSize;
  auto [ec, bytes] = co_await socket_.async_read_some(buffer_.prepare(want), kTuple);
  buffer_.commit(bytes);
  if (ec == asio::error::eof) eof_ = true;
  co_return ec;
}

asio::awaitable<void> ServerConnection::RunHandler(Request request) {
  phase_ = Phase::kHandler;
  SetDeadline(kNever);  // the handler has its own deadlines; writes set one while they block
  response_state_ = ResponseState::kNone;
  request_version_ = request.version();
  request_keep_alive_ = request.keep_alive();
  head_request_ = request.method() == http::verb::head;
  keep_alive_ = false;
  handler_threw_ = false;
  WorkerCounters::Increment(worker_.counters().requests);

  handler_running_ = true;
  const uint64_t generation = ++handler_generation_;
  // Runs after the handler's first suspension, or after it finished without one (then it does
  // nothing): a handler that answers at once costs no extra read.
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), generation] { self->MaybeStartMonitor(generation); });
  // The handler runs inline on this coroutine (no co_spawn per request). This coroutine was
  // spawned bound to handler_cancel_, which is emitted only while the handler runs, so the
  // cancellation reaches exactly the handler's pending operation.
  auto& log = *worker_.shared().log;
  try {
    co_await worker_.shared().handler(std::move(request), ResponseWriter(this));
  } catch (const boost::system::system_error& e) {
    // Cancellation because the client left is how a handler is expected to end then (an Asio
    // channel the handler waited on reports it as channel_cancelled).
    const bool cancelled = e.code() == asio::error::operation_aborted ||
                           e.code() == asio::experimental::error::channel_cancelled;
    if (!peer_gone_ || !cancelled) {
      log.error("handler failed: {}", e.what());
      handler_threw_ = true;
    }
  } catch (const std::exception& e) {
    log.error("handler failed: {}", e.what());
    handler_threw_ = true;
  } catch (...) {
    log.error("handler failed with a non-standard exception");
    handler_threw_ = true;
  }
  handler_running_ = false;
  // A cancellation stays recorded in the coroutine's state, where it would make every later
  // co_await throw; it was meant for the handler only.
  co_await asio::this_coro::reset_cancellation_state();
  co_await CompleteResponse();
}

asio::awaitable<void> ServerConnection::CompleteResponse() {
  if (peer_gone_) co_return;
  switch (response_state_) {
    case ResponseState::kNone:
      if (!handler_threw_) worker_.shared().log->error("handler returned without a response");
      co_await SendServerError(500, "internal error: the request handler produced no response");
      break;
    case ResponseState::kStreaming:
      if (handler_threw_) {
        // Without the last chunk the client sees a truncated body rather than a complete one.
        PeerGone();
      } else {
        co_await Finish();
      }
      break;
    case ResponseState::kDone:
      break;
  }
  if (worker_.shared().draining.load(std::memory_order_relaxed)) keep_alive_ = false;
}

asio::awaitable<Result<void>> ServerConnection::Send(Response response) {
  BRIX_CHECK(response_state_ == ResponseState::kNone) << "a handler answers a request once";
  BRIX_CHECK(response.result_int() >= 200) << "a final response needs a status >= 200";
  response_state_ = ResponseState::kDone;
  if (peer_gone_) co_return ClientGone();
  // The common case (the socket takes the whole response) runs here without a nested coroutine.
  const std::array<asio::const_buffer, 2> buffers = PrepareResponse(response);
  size_t written = 0;
  error_code ec;
  if (!WriteNow(buffers, &written, &ec)) ec = co_await WriteRest(buffers, written);
  if (ec) co_return WriteFailed(ec);
  co_return Result<void>();
}

asio::awaitable<Result<void>> ServerConnection::StartStream(ResponseHead head) {
  BRIX_CHECK(response_state_ == ResponseState::kNone) << "a handler answers a request once";
  BRIX_CHECK(head.result_int() >= 200) << "a final response needs a status >= 200";
  response_state_ = ResponseState::kStreaming;
  if (peer_gone_) co_return ClientGone();
  PrepareHead(head, /*streaming=*/true);
  SerializeHead(head, std::nullopt, stream_chunked_, head_buffer_);
  const error_code ec =
      co_await WriteAll(std::array<asio::const_buffer, 1>{asio::buffer(head_buffer_)});
  if (ec) co_return WriteFailed(ec);
  co_return Result<void>();
}

asio::awaitable<Result<void>> ServerConnection::Write(std::string data) {
  BRIX_CHECK(response_state_ == ResponseState::kStreaming)
      << "Write() needs StartStream() before and no Finish()";
  if (peer_gone_) co_return ClientGone();
  if (!stream_body_ || data.empty()) co_return Result<void>();
  error_code ec;
  if (chunked_) {
    char size_line[24];
    char* end = std::to_chars(size_line, size_line + 16, data.size(), 16).ptr;
    *end++ = '\r';
    *end++ = '\n';
    const size_t size = static_cast<size_t>(end - size_line);
    ec = co_await WriteAll(
        std::array<asio::const_buffer, 3>{asio::const_buffer(size_line, size), asio::buffer(data),
                                          asio::const_buffer(kCrLf.data(), kCrLf.size())});
  } else {
    ec = co_await WriteAll(std::array<asio::const_buffer, 1>{asio::buffer(data)});
  }
  if (ec) co_return WriteFailed(ec);
  co_return Result<void>();
}

asio::awaitable<Result<void>> ServerConnection::Finish() {
  BRIX_CHECK(response_state_ == ResponseState::kStreaming)
      << "Finish() needs StartStream() before and no Finish()";
  response_state_ = ResponseState::kDone;
  if (peer_gone_) co_return ClientGone();
  if (!chunked_) co_return Result<void>();  // HTTP/1.0: the close ends the body
  const error_code ec = co_await WriteAll(
      std::array<asio::const_buffer, 1>{asio::const_buffer(kLastChunk.data(), kLastChunk.size())});
  if (ec) co_return WriteFailed(ec);
  co_return Result<void>();
}

asio::awaitable<void> ServerConnection::SendServerError(unsigned status, std::string message) {
  phase_ = Phase::kWriting;
  request_version_ = 11;
  request_keep_alive_ = false;
  head_request_ = false;
  Response response(static_cast<http::status>(status), 11);
  response.set(http::field::content_type, "application/json");
  response.body() = ErrorBody(status, message);
  const error_code ec = co_await WriteResponse(std::move(response));
  if (ec) PeerGone();
  keep_alive_ = false;
}

std::array<asio::const_buffer, 2> ServerConnection::PrepareResponse(Response& response) {
  PrepareHead(response.base(), /*streaming=*/false);
  const bool body_allowed = BodyAllowed(response.result_int());
  const std::string& body = response.body();
  SerializeHead(response.base(), body_allowed ? std::optional<size_t>(body.size()) : std::nullopt,
                /*chunked=*/false, head_buffer_);
  const bool send_body = body_allowed && !head_request_;
  return {asio::buffer(head_buffer_), send_body ? asio::buffer(body) : asio::const_buffer()};
}

asio::awaitable<error_code> ServerConnection::WriteResponse(Response response) {
  co_return co_await WriteAll(PrepareResponse(response));
}

void ServerConnection::PrepareHead(ResponseHead& head, bool streaming) {
  const bool handler_close = http::token_list(head[http::field::connection]).exists("close");
  bool keep = request_keep_alive_ && !handler_close &&
              !worker_.shared().draining.load(std::memory_order_relaxed);
  const bool body_allowed = BodyAllowed(head.result_int());
  head.version(request_version_);
  head.erase(http::field::content_length);
  head.erase(http::field::transfer_encoding);
  stream_chunked_ = streaming && body_allowed && request_version_ >= 11;
  stream_body_ = streaming && body_allowed && !head_request_;
  chunked_ = stream_chunked_ && !head_request_;
  // An HTTP/1.0 client learns where a streamed body ends only from the close.
  if (stream_body_ && !chunked_) keep = false;
  if (keep) {
    if (request_version_ < 11) {
      head.set(http::field::connection, "keep-alive");
    } else {
      head.erase(http::field::connection);
    }
  } else {
    head.set(http::field::connection, "close");
  }
  keep_alive_ = keep;
  worker_.counters().CountResponse(head.result_int());
}

template <typename Buffers>
bool ServerConnection::WriteNow(const Buffers& buffers, size_t* written, error_code* ec) {
  // The socket is non-blocking: this writes what fits in the socket buffer now, which is all of
  // a typical response, without a round trip through the io_context.
  *written = socket_.write_some(buffers, *ec);
  if (*ec == asio::error::would_block || *ec == asio::error::try_again) {
    *ec = {};
    return false;
  }
  return *ec || *written == asio::buffer_size(buffers);
}

template <typename Buffers>
asio::awaitable<error_code> ServerConnection::WriteRest(Buffers buffers, size_t written) {
  boost::beast::buffers_suffix<Buffers> rest(buffers);
  rest.consume(written);
  const Clock::time_point previous = deadline_;
  SetDeadline(Clock::now() + config_.send_timeout);
  auto [write_ec, bytes] = co_await asio::async_write(socket_, rest, kTuple);
  const bool timed_out = timed_out_;
  SetDeadline(previous);
  if (write_ec == asio::error::operation_aborted && timed_out) co_return asio::error::timed_out;
  co_return write_ec;
}

template <typename Buffers>
asio::awaitable<error_code> ServerConnection::WriteAll(Buffers buffers) {
  size_t written = 0;
  error_code ec;
  if (WriteNow(buffers, &written, &ec)) co_return ec;
  co_return co_await WriteRest(buffers, written);
}

Error ServerConnection::WriteFailed(const error_code& ec) {
  PeerGone();
  if (ec == asio::error::timed_out) {
    return Cancelled(
        fmt::format("client did not read the response for {} ms", config_.send_timeout.count()));
  }
  if (ec == asio::error::operation_aborted) return ClientGone();
  return Cancelled("client disconnected: " + ec.message());
}

asio::awaitable<void> ServerConnection::Close() {
  phase_ = Phase::kClosing;
  error_code ignored;
  if (!forced_ && !peer_gone_ && !eof_) {
    // Half-close, then read and discard until the client closes too: closing a socket with
    // unread input sends a reset, which can destroy the response before the client reads it.
    socket_.shutdown(asio::socket_base::shutdown_send, ignored);
    SetDeadline(Clock::now() + config_.linger_timeout);
    size_t discarded = 0;
    while (discarded < kMaxLingerBytes) {
      const error_code ec = co_await ReadSome();
      discarded += buffer_.size();
      buffer_.clear();
      if (ec) break;
    }
  } else if (monitor_active_) {
    socket_.cancel(ignored);
    co_await ReadSome();  // let the monitor's read finish before the socket goes
  }
  closed_ = true;
  watchdog_.cancel();
  socket_.close(ignored);
}

void ServerConnection::SetDeadline(Clock::time_point deadline) {
  deadline_ = deadline;
  timed_out_ = false;
  // Later deadlines are picked up when the armed wait expires; only an earlier one re-arms.
  if (deadline < armed_ && !rearming_ && !closed_) {
    rearming_ = true;
    watchdog_.cancel();
  }
}

void ServerConnection::ArmWatchdog() {
  armed_ = deadline_;
  watchdog_.expires_at(armed_);
  watchdog_.async_wait([self = shared_from_this()](const error_code&) { self->OnWatchdog(); });
}

void ServerConnection::OnWatchdog() {
  rearming_ = false;
  if (closed_) return;
  if (Clock::now() >= deadline_) {
    deadline_ = kNever;
    OnTimeout();
  }
  ArmWatchdog();
}

void ServerConnection::OnTimeout() {
  timed_out_ = true;
  if (phase_ == Phase::kHandler) {
    // Only a handler's write sets a deadline: the client stopped reading.
    PeerGone();
    CancelHandler();
  }
  error_code ignored;
  socket_.cancel(ignored);
}

void ServerConnection::MaybeStartMonitor(uint64_t generation) {
  if (!handler_running_ || generation != handler_generation_ || monitor_active_ || peer_gone_ ||
      eof_ || closed_) {
    return;
  }
  // With this much of a pipelined request buffered, stop reading and let TCP push back.
  if (buffer_.size() >= config_.max_header_bytes) return;
  monitor_active_ = true;
  monitor_error_ = {};
  socket_.async_read_some(buffer_.prepare(kReadSize),
                          [self = shared_from_this()](const error_code& ec, size_t bytes) {
                            self->OnMonitorRead(ec, bytes);
                          });
}

void ServerConnection::OnMonitorRead(const error_code& ec, size_t bytes) {
  monitor_active_ = false;
  buffer_.commit(bytes);
  if (!ec) {
    if (handler_running_) {
      MaybeStartMonitor(handler_generation_);
      return;
    }
  } else {
    monitor_error_ = ec;
    if (ec == asio::error::eof) eof_ = true;
    // Cancellation comes from the watchdog, drain or ForceClose, which handle the handler.
    if (ec != asio::error::operation_aborted && handler_running_) {
      PeerGone();
      CancelHandler();
    }
  }
  monitor_waiter_.cancel();
}

void ServerConnection::PeerGone() {
  peer_gone_ = true;
  keep_alive_ = false;
}

void ServerConnection::CancelHandler() {
  if (handler_running_) handler_cancel_.emit(asio::cancellation_type::terminal);
}

}  // namespace brix::net::internal
