// RedisClient: a small asynchronous Redis client on Asio coroutines, for the gateway's shared
// quota counters. RESP is encoded and decoded by hiredis (Debian libhiredis-dev: its reply
// reader and command formatter, without its blocking I/O); connections, pipelining, deadlines
// and reconnection are ours.
//
//   RedisClient redis(io.get_executor(), {.host = "127.0.0.1", .port = 6379});
//   // on io's thread:
//   Result<RedisReply> r = co_await redis.Command({"INCR", "k"}, Clock::now() + 50ms);
//
// Commands share one connection, pipelined in order; replies are matched first in, first out.
// A command with no reply by its deadline fails with DeadlineExceeded and resets the connection
// (a server that does not answer one command will not answer those behind it); a lost
// connection fails every command on it with Unavailable; the next command reconnects. After a
// failed connect, commands fail at once (Unavailable) for a backoff that doubles from
// min_backoff to max_backoff, so a Redis outage never makes callers wait. Not thread-safe: use
// from coroutines on the client's executor only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace brix::net {

struct RedisReply {
  enum class Type { kString, kStatus, kInteger, kNil, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
};

// "redis://HOST:PORT" (port defaults to 6379; IPv6 hosts in brackets) into options.
Result<RedisOptions> ParseRedisUrl(std::string_view url);

class RedisClient {
 public:
  using Clock = std::chrono::steady_clock;

  RedisClient(boost::asio::any_io_executor executor, RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command (arguments as binary-safe strings) and returns its reply; an error reply
  // is a reply (Type::kError), not a failure.
  boost::asio::awaitable<Result<RedisReply>> Command(std::vector<std::string> args,
                                                     Clock::time_point deadline);

  // Closes the connection; commands waiting on it fail with Unavailable.
  void Close();

  struct Connection;
  struct Waiter;

 private:
  boost::asio::awaitable<void> Connect(Clock::time_point deadline);
  void Fail(const std::shared_ptr<Connection>& connection, const std::string& why);
  std::string Where() const;

  boost::asio::any_io_executor executor_;
  RedisOptions options_;
  std::shared_ptr<Connection> connection_;
  bool connecting_ = false;
  std::vector<std::shared_ptr<Waiter>> connect_waiters_;
  Clock::time_point down_until_{};
  std::chrono::milliseconds backoff_{0};
  std::string last_error_;
};

}  // namespace brix::net
