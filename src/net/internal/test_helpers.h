// Helpers for net's own tests: a blocking raw-socket HTTP client for byte-level checks, a
// cross-thread event for coroutines, and a runner for client coroutines. Test-only.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "net/http.h"

namespace brix::net::testing {

// How long any blocking step of a test waits before failing instead of hanging. Generous: it
// guards against bugs, it is not a timing assertion.
inline constexpr std::chrono::seconds kHangGuard(20);

// A blocking TCP client on raw POSIX sockets, so that tests control every byte. Reads give up
// after kHangGuard (SO_RCVTIMEO). One thread.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{.tv_sec = kHangGuard.count(), .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    connect_errno_ = connected_ ? 0 : errno;
  }
  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  int connect_errno() const { return connect_errno_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response (an interim 100 Continue counts as one). Empty when the connection
  // closed or failed first.
  std::optional<Response> ReadResponse(bool head_request = false) {
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.body_limit(boost::none);
    if (head_request) parser.skip(true);
    while (true) {
      while (buffer_.size() > 0 && !parser.is_done()) {
        boost::system::error_code ec;
        const size_t used = parser.put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == boost::beast::http::error::need_more) break;
        if (ec) {
          ADD_FAILURE() << "bad response: " << ec.message();
          return std::nullopt;
        }
      }
      if (parser.is_done()) return parser.release();
      const ssize_t n = ReceiveSome();
      if (n == 0 && parser.is_header_done()) {
        boost::system::error_code ec;
        parser.put_eof(ec);
        if (!ec) return parser.release();
      }
      if (n <= 0) return std::nullopt;
    }
  }

  // Whether the peer closed the connection without sending anything more.
  bool ReadsEof() {
    if (buffer_.size() > 0) return false;
    return ReceiveSome() == 0;
  }

  // Everything until the peer closes.
  std::string ReadToEof() {
    while (ReceiveSome() > 0) {
    }
    std::string all(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.clear();
    return all;
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  ssize_t ReceiveSome() {
    auto space = buffer_.prepare(16 * 1024);
    const ssize_t n = ::recv(fd_, space.data(), space.size(), 0);
    if (n > 0) buffer_.commit(static_cast<size_t>(n));
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      ADD_FAILURE() << "read timed out (hang guard)";
    }
    return n;
  }

  int fd_ = -1;
  bool connected_ = false;
  int connect_errno_ = 0;
  boost::beast::flat_buffer buffer_;
};

// A one-shot event: any thread may Set() it; a coroutine may Wait() for it, a thread
// WaitFor() it.
class TestEvent {
 public:
  void Set() {
    std::shared_ptr<boost::asio::steady_timer> waiter;
    {
      std::lock_guard lock(mu_);
      set_ = true;
      waiter = waiter_;
      cv_.notify_all();
    }
    if (waiter) boost::asio::post(waiter->get_executor(), [waiter] { waiter->cancel(); });
  }

  // True once set; false when the wait was cancelled (e.g. the handler's client left).
  boost::asio::awaitable<bool> Wait() {
    auto waiter = std::make_shared<boost::asio::steady_timer>(
        co_await boost::asio::this_coro::executor, std::chrono::steady_clock::time_point::max());
    {
      std::lock_guard lock(mu_);
      if (set_) co_return true;
      waiter_ = waiter;
    }
    co_await waiter->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    std::lock_guard lock(mu_);
    waiter_.reset();
    co_return set_;
  }

  // Blocks the calling thread until set; false after kHangGuard.
  bool WaitFor() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kHangGuard, [this] { return set_; });
  }

  bool is_set() const {
    std::lock_guard lock(mu_);
    return set_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
  std::shared_ptr<boost::asio::steady_timer> waiter_;
};

// Runs `coroutine` on `context` until it finishes and returns its result.
template <typename T>
T RunOn(boost::asio::io_context& context, boost::asio::awaitable<T> coroutine) {
  auto future = boost::asio::co_spawn(context, std::move(coroutine), boost::asio::use_future);
  context.restart();
  context.run();
  return future.get();
}

// A request with the fields every HTTP/1.1 request needs.
inline std::string RawGet(std::string_view target, std::string_view extra_fields = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_fields) +
         "\r\n";
}

}  // namespace brix::net::testing
