#include "net/redis_client.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>

#include "net/redis_test_server.h"

namespace brix::net {
namespace {

namespace asio = boost::asio;
using Clock = RedisClient::Clock;
using std::chrono::milliseconds;

// GCC 12 mis-compiles braced lists inside co_await expressions; build commands in a call.
template <typename... A>
std::vector<std::string> Cmd(A... args) {
  return {std::string(args)...};
}

// Runs `body` on `io` until it completes (the client's reader keeps the context busy, so
// io.run() alone would not return).
template <typename F>
auto RunOn(asio::io_context& io, F body) {
  auto future = asio::co_spawn(io, body(), asio::use_future);
  io.restart();
  while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
  return future.get();
}

TEST(RedisUrlTest, ParsesHostAndPort) {
  Result<RedisOptions> a = ParseRedisUrl("redis://10.0.0.5:6380");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 6380);
  Result<RedisOptions> b = ParseRedisUrl("redis://cache.local/");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "cache.local");
  EXPECT_EQ(b->port, 6379);
  Result<RedisOptions> c = ParseRedisUrl("redis://[::1]:7000");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 7000);
  for (const char* bad : {"http://x:1", "redis://", "redis://h:0", "redis://h:99999",
                          "redis://h:12x", "redis://user@h:1", "redis://[::1"}) {
    EXPECT_FALSE(ParseRedisUrl(bad)) << bad;
  }
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!server_.ready()) GTEST_FAIL() << "redis-server did not start (scripts/install-deps)";
  }
  testing::RedisTestServer server_;
  asio::io_context io_;
};

TEST_F(RedisClientTest, CommandsArePipelinedAndAnsweredInOrder) {
  RedisClient redis(io_.get_executor(), {.port = server_.port()});
  const bool done = RunOn(io_, [&]() -> asio::awaitable<bool> {
    Result<RedisReply> set = co_await redis.Command(Cmd("SET", "k", "v\r\nwith bytes"),
                                                    Clock::now() + std::chrono::seconds(5));
    EXPECT_TRUE(set && set->type == RedisReply::Type::kStatus && set->str == "OK");
    Result<RedisReply> get =
        co_await redis.Command(Cmd("GET", "k"), Clock::now() + std::chrono::seconds(5));
    EXPECT_TRUE(get && get->str == "v\r\nwith bytes");
    Result<RedisReply> err =
        co_await redis.Command(Cmd("NOSUCHCOMMAND"), Clock::now() + std::chrono::seconds(5));
    EXPECT_TRUE(err && err->type == RedisReply::Type::kError);
    co_return true;
  });
  EXPECT_TRUE(done);
  // 200 INCRs from concurrent coroutines share the connection; each sees a distinct value.
  std::vector<int64_t> values;
  int finished = 0;
  for (int i = 0; i < 200; ++i) {
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          Result<RedisReply> r =
              co_await redis.Command(Cmd("INCR", "n"), Clock::now() + std::chrono::seconds(5));
          if (r && r->type == RedisReply::Type::kInteger) values.push_back(r->integer);
          ++finished;
        },
        asio::detached);
  }
  io_.restart();
  // Bounded: each command has a 5 s deadline.
  while (finished < 200 && io_.run_one_for(std::chrono::seconds(10)) > 0) {
  }
  ASSERT_EQ(values.size(), 200u);
  std::sort(values.begin(), values.end());
  for (int i = 0; i < 200; ++i) EXPECT_EQ(values[static_cast<size_t>(i)], i + 1);
}

TEST_F(RedisClientTest, OutagesFailFastAndTheClientRecoversByItself) {
  RedisClient redis(io_.get_executor(), {.port = server_.port(), .min_backoff = milliseconds(50)});
  auto incr = [&](milliseconds budget) {
    return RunOn(io_, [&]() -> asio::awaitable<Result<RedisReply>> {
      co_return co_await redis.Command(Cmd("INCR", "x"), Clock::now() + budget);
    });
  };
  ASSERT_TRUE(incr(milliseconds(2000)));
  server_.Kill();
  const Clock::time_point before = Clock::now();
  Result<RedisReply> down = incr(milliseconds(2000));
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, Errc::kUnavailable) << down.error().message;
  // Within the backoff, commands fail without trying.
  Result<RedisReply> again = incr(milliseconds(2000));
  ASSERT_FALSE(again);
  EXPECT_LT(Clock::now() - before, std::chrono::seconds(2));  // guard, not a timing claim
  server_.Restart();
  ASSERT_TRUE(server_.ready());
  Result<RedisReply> back = Unavailable("not tried yet");
  for (int i = 0; i < 100 && !back; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    back = incr(milliseconds(2000));
  }
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->integer, 1) << static_cast<int>(back->type) << " "
                              << back->str;  // a fresh server
}

TEST_F(RedisClientTest, AHungServerMissesTheDeadlineAndTheConnectionIsReset) {
  RedisClient redis(io_.get_executor(), {.port = server_.port()});
  auto ping = [&](milliseconds budget) {
    return RunOn(io_, [&]() -> asio::awaitable<Result<RedisReply>> {
      co_return co_await redis.Command(Cmd("PING"), Clock::now() + budget);
    });
  };
  ASSERT_TRUE(ping(milliseconds(2000)));
  server_.Stop();
  Result<RedisReply> hung = ping(milliseconds(100));
  ASSERT_FALSE(hung);
  EXPECT_EQ(hung.error().code, Errc::kDeadlineExceeded);
  server_.Continue();
  Result<RedisReply> back = ping(milliseconds(2000));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->str, "PONG");
}

}  // namespace
}  // namespace brix::net
