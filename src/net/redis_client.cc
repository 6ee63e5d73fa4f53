#include "net/redis_client.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <deque>
#include <optional>

namespace brix::net {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

struct RedisClient::Waiter {
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {
    timer.expires_at(Clock::time_point::max());
  }
  void Complete(Result<RedisReply> r) {
    if (result) return;
    result = std::move(r);
    timer.cancel();
  }
  asio::steady_timer timer;
  std::optional<Result<RedisReply>> result;
};

struct RedisClient::Connection {
  Connection(tcp::socket s) : socket(std::move(s)), reader(redisReaderCreate()) {}
  ~Connection() { redisReaderFree(reader); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  tcp::socket socket;
  redisReader* reader;
  std::deque<std::shared_ptr<Waiter>> pending;  // in the order their commands were written
  std::string out;                              // formatted commands not yet written
  bool writing = false;
  bool dead = false;
};

namespace {

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

}  // namespace

Result<RedisOptions> ParseRedisUrl(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) {
    return InvalidArgument(fmt::format("redis URL \"{}\": must start with redis://", url));
  }
  std::string_view rest = url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  RedisOptions out;
  std::string_view port_text;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument(fmt::format("redis URL \"{}\": unclosed [", url));
    }
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (rest.starts_with(':'))
      port_text = rest.substr(1);
    else if (!rest.empty())
      return InvalidArgument(fmt::format("redis URL \"{}\": bad host", url));
  } else {
    const size_t colon = rest.rfind(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (out.host.empty() || out.host.find_first_of("/@?#") != std::string::npos) {
    return InvalidArgument(fmt::format("redis URL \"{}\": expected redis://HOST:PORT", url));
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return InvalidArgument(fmt::format("redis URL \"{}\": port must be 1 to 65535", url));
    }
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

RedisClient::RedisClient(asio::any_io_executor executor, RedisOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {}

RedisClient::~RedisClient() { Close(); }

std::string RedisClient::Where() const {
  return fmt::format("redis {}:{}", options_.host, options_.port);
}

void RedisClient::Close() {
  if (connection_) Fail(connection_, "client closed");
}

void RedisClient::Fail(const std::shared_ptr<Connection>& c, const std::string& why) {
  if (c->dead) return;
  c->dead = true;
  boost::system::error_code ignored;
  c->socket.close(ignored);
  std::deque<std::shared_ptr<Waiter>> pending;
  pending.swap(c->pending);
  for (auto& w : pending) w->Complete(Unavailable(fmt::format("{}: {}", Where(), why)));
  if (connection_ == c) connection_.reset();
}

awaitable<void> RedisClient::Connect(Clock::time_point deadline) {
  connecting_ = true;
  std::string error;
  tcp::socket socket(executor_);
  {
    tcp::resolver resolver(executor_);
    auto [rec, endpoints] = co_await resolver.async_resolve(
        options_.host, std::to_string(options_.port), asio::as_tuple(asio::use_awaitable));
    if (rec) {
      error = rec.message();
    } else {
      // The connect races a timer that closes the socket: a blackholed address fails in time.
      asio::steady_timer watchdog(executor_);
      watchdog.expires_at(std::min(deadline, Clock::now() + options_.connect_timeout));
      watchdog.async_wait([&socket](boost::system::error_code ec) {
        if (!ec) {
          boost::system::error_code ignored;
          socket.close(ignored);
        }
      });
      auto [cec, ep] =
          co_await asio::async_connect(socket, endpoints, asio::as_tuple(asio::use_awaitable));
      watchdog.cancel();
      if (cec || !socket.is_open()) {
        error = cec ? cec.message() : "connect timed out";
      }
    }
  }
  if (error.empty()) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto c = std::make_shared<Connection>(std::move(socket));
    connection_ = c;
    backoff_ = std::chrono::milliseconds(0);
    // The reader: replies complete the oldest waiting command.
    asio::co_spawn(
        executor_,
        [this, c]() -> awaitable<void> {
          std::array<char, 16384> buf;
          while (!c->dead) {
            auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(buf),
                                                              asio::as_tuple(asio::use_awaitable));
            if (ec) {
              Fail(c, ec == asio::error::eof ? "connection closed by the server" : ec.message());
              co_return;
            }
            if (redisReaderFeed(c->reader, buf.data(), n) != REDIS_OK) {
              Fail(c, "unreadable reply");
              co_return;
            }
            while (!c->dead) {
              void* raw = nullptr;
              if (redisReaderGetReply(c->reader, &raw) != REDIS_OK) {
                Fail(c, "malformed reply");
                co_return;
              }
              if (raw == nullptr) break;
              RedisReply reply = Convert(static_cast<redisReply*>(raw));
              freeReplyObject(raw);
              if (c->pending.empty()) {
                Fail(c, "a reply to no command");
                co_return;
              }
              std::shared_ptr<Waiter> w = std::move(c->pending.front());
              c->pending.pop_front();
              w->Complete(std::move(reply));
            }
          }
        },
        asio::detached);
  } else {
    last_error_ = error;
    backoff_ =
        backoff_.count() == 0 ? options_.min_backoff : std::min(backoff_ * 2, options_.max_backoff);
    down_until_ = Clock::now() + backoff_;
  }
  connecting_ = false;
  std::vector<std::shared_ptr<Waiter>> waiters;
  waiters.swap(connect_waiters_);
  for (auto& w : waiters) w->Complete(RedisReply{});
}

awaitable<Result<RedisReply>> RedisClient::Command(std::vector<std::string> args,
                                                   Clock::time_point deadline) {
  if (args.empty()) co_return InvalidArgument("redis: empty command");
  if (!connection_) {
    if (Clock::now() < down_until_) {
      co_return Unavailable(
          fmt::format("{} is unreachable ({}); retrying after a backoff", Where(), last_error_));
    }
    if (connecting_) {
      auto w = std::make_shared<Waiter>(executor_);
      connect_waiters_.push_back(w);
      w->timer.expires_at(deadline);
      co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!w->result) co_return DeadlineExceeded(fmt::format("{}: connect timed out", Where()));
    } else {
      co_await Connect(deadline);
    }
    if (!connection_) {
      co_return Unavailable(fmt::format("{} is unreachable ({})", Where(), last_error_));
    }
  }
  std::shared_ptr<Connection> c = connection_;

  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* formatted = nullptr;
  const int n =
      redisFormatCommandArgv(&formatted, static_cast<int>(args.size()), argv.data(), lens.data());
  if (n < 0) co_return Internal("redis: cannot format the command");
  c->out.append(formatted, static_cast<size_t>(n));
  redisFreeCommand(formatted);

  auto w = std::make_shared<Waiter>(executor_);
  c->pending.push_back(w);
  if (!c->writing) {
    c->writing = true;
    asio::co_spawn(
        executor_,
        [this, c]() -> awaitable<void> {
          while (!c->out.empty() && !c->dead) {
            std::string chunk;
            chunk.swap(c->out);
            auto [ec, written] = co_await asio::async_write(c->socket, asio::buffer(chunk),
                                                            asio::as_tuple(asio::use_awaitable));
            if (ec) {
              Fail(c, ec.message());
              break;
            }
          }
          c->writing = false;
        },
        asio::detached);
  }
  if (!w->result) {
    w->timer.expires_at(deadline);
    co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (!w->result) {
    Fail(c, "no reply before the deadline");
    co_return DeadlineExceeded(fmt::format("{}: no reply before the deadline", Where()));
  }
  co_return std::move(*w->result);
}

}  // namespace brix::net
