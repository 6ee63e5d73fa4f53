// The Redis quota backend against a real redis-server (net/redis_test_server.h): the same
// decisions as the in-process backend, no overshoot with many backends (gateways) admitting at
// once, and outages that fail fast and heal by themselves.
#include "gateway/redis_quota.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <deque>
#include <random>
#include <thread>

#include "net/redis_test_server.h"

namespace brix::gateway {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// Admit from a plain thread: runs the coroutine on a private io_context.
Result<tenant::Admission> AdmitNow(QuotaBackend& backend, const tenant::TenantSpec& spec,
                                   std::string_view model, uint64_t tokens) {
  asio::io_context io;
  auto future = asio::co_spawn(io, backend.Admit(spec, model, tokens), asio::use_future);
  io.run();
  return future.get();
}

tenant::TenantSpec Spec(std::string name, tenant::Limits limits) {
  tenant::TenantSpec spec;
  spec.name = std::move(name);
  spec.limits = limits;
  return spec;
}

std::unique_ptr<QuotaBackend> Backend(const net::testing::RedisTestServer& server,
                                      milliseconds timeout = milliseconds(2000)) {
  Result<std::unique_ptr<QuotaBackend>> b =
      MakeRedisQuotaBackend({.url = server.url(), .timeout = timeout});
  EXPECT_TRUE(b) << b.error().message;
  return std::move(*b);
}

class RedisQuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!server_.ready()) GTEST_FAIL() << "redis-server did not start (scripts/install-deps)";
  }
  net::testing::RedisTestServer server_;
};

TEST_F(RedisQuotaTest, DecidesAsTheLocalBackendDoes) {
  auto redis = Backend(server_);
  const tenant::TenantSpec spec =
      Spec("acme", {.requests_per_minute = 3, .tokens_per_minute = 100});
  // Three fit; the fourth is refused on requests with a wait; the headers' budgets count down.
  for (uint64_t i = 0; i < 3; ++i) {
    Result<tenant::Admission> a = AdmitNow(*redis, spec, "m", 10);
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_TRUE(a->allowed);
    EXPECT_EQ(a->requests->remaining, 2 - i);
    EXPECT_EQ(a->tokens->remaining, 100 - 10 * (i + 1));
    redis->Settle(a->grant, 10);
  }
  Result<tenant::Admission> refused = AdmitNow(*redis, spec, "m", 10);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->kind, tenant::LimitKind::kRequests);
  EXPECT_EQ(refused->limit, 3u);
  EXPECT_EQ(refused->used, 3u);
  EXPECT_GT(refused->retry_after_ms, 0);
  EXPECT_LE(refused->retry_after_ms, 61'000);
  // Too big ever to fit: no wait.
  const tenant::TenantSpec tokens = Spec("tok", {.tokens_per_minute = 100});
  Result<tenant::Admission> huge = AdmitNow(*redis, tokens, "m", 101);
  ASSERT_TRUE(huge);
  EXPECT_FALSE(huge->allowed);
  EXPECT_EQ(huge->kind, tenant::LimitKind::kTokens);
  EXPECT_EQ(huge->retry_after_ms, -1);
}

TEST_F(RedisQuotaTest, SettlementRefundsTokensAndFreesSlots) {
  auto redis = Backend(server_);
  const tenant::TenantSpec spec = Spec("acme", {.tokens_per_minute = 300, .max_concurrent = 1});
  Result<tenant::Admission> a = AdmitNow(*redis, spec, "m", 200);
  ASSERT_TRUE(a && a->allowed);
  // The slot is held.
  Result<tenant::Admission> b = AdmitNow(*redis, spec, "m", 10);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->allowed);
  EXPECT_EQ(b->kind, tenant::LimitKind::kConcurrent);
  // Settled to 20 tokens: the slot frees and 280 tokens are left. Settle is asynchronous, so
  // wait for its effect (bounded).
  redis->Settle(a->grant, 20);
  Result<tenant::Admission> c = Unavailable("not tried");
  for (int i = 0; i < 200 && !(c && c->allowed); ++i) {
    std::this_thread::sleep_for(milliseconds(5));
    c = AdmitNow(*redis, spec, "m", 250);
  }
  ASSERT_TRUE(c && c->allowed);
  EXPECT_EQ(c->tokens->remaining, 300u - 20 - 250);
}

TEST_F(RedisQuotaTest, ManyGatewaysNeverAdmitMoreThanTheLimit) {
  // Four backends (four gateways), four threads each, all admitting the same tenant at once.
  constexpr uint64_t kLimit = 50;
  const tenant::TenantSpec spec = Spec("shared", {.requests_per_minute = kLimit});
  std::vector<std::unique_ptr<QuotaBackend>> gateways;
  for (int i = 0; i < 4; ++i) gateways.push_back(Backend(server_));
  std::atomic<uint64_t> allowed{0}, refused{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      QuotaBackend& g = *gateways[static_cast<size_t>(t % 4)];
      for (int i = 0; i < 20; ++i) {
        Result<tenant::Admission> a = AdmitNow(g, spec, "m", 0);
        if (!a) {
          ++failed;
        } else if (a->allowed) {
          ++allowed;
        } else {
          ++refused;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0u);
  EXPECT_EQ(allowed.load(), kLimit);  // all within one window: exactly the limit
  EXPECT_EQ(refused.load(), 16u * 20 - kLimit);
}

// The Redis backend and the in-process one make the same decisions on the same history: random
// arrivals over five (test-clock) minutes, with bursts, token reservations settled later to
// smaller amounts, concurrency, and a per-model limit. Whatever is admitted, no 60-second
// window of Redis's admissions holds more than the limit.
TEST_F(RedisQuotaTest, SameDecisionsAsInProcessAndNoWindowOvershoots) {
  std::atomic<int64_t> now{1'000'000};
  Result<std::unique_ptr<QuotaBackend>> made = MakeRedisQuotaBackend(
      {.url = server_.url(), .timeout = milliseconds(2000), .now_ms_for_tests = [&now] {
         return now.load();
       }});
  ASSERT_TRUE(made) << made.error().message;
  QuotaBackend& redis = **made;
  tenant::LocalQuota local;
  tenant::TenantSpec spec =
      Spec("equiv", {.requests_per_minute = 40, .tokens_per_minute = 6000, .max_concurrent = 4});
  spec.model_limits["m"].requests_per_minute = 25;

  struct Pending {
    int64_t at;
    tenant::Grant local;
    tenant::Grant redis;
    uint64_t actual;
  };
  // Settlements are sent in the background, and on a fresh server a script's first use may
  // reload it (NOSCRIPT, a second round trip) and be overtaken by the next admission. Warm both
  // scripts up first: a settlement's refund must be visible before comparing step by step.
  {
    const tenant::TenantSpec warm = Spec("warm-up", {.tokens_per_minute = 100});
    Result<tenant::Admission> first = AdmitNow(redis, warm, "m", 100);
    ASSERT_TRUE(first && first->allowed);
    redis.Settle(first->grant, 0);
    Result<tenant::Admission> again = Unavailable("not tried");
    for (int i = 0; i < 200 && !(again && again->allowed); ++i) {
      std::this_thread::sleep_for(milliseconds(5));
      again = AdmitNow(redis, warm, "m", 100);
    }
    ASSERT_TRUE(again && again->allowed);
  }
  std::vector<Pending> pending;
  std::vector<int64_t> admitted;
  std::mt19937_64 rng(7);
  int compared = 0;
  for (int i = 0; i < 1500; ++i) {
    now += std::uniform_int_distribution<int64_t>(0, rng() % 5 == 0 ? 3'000 : 80)(rng);
    // Requests that ended by now settle first, in both.
    std::erase_if(pending, [&](Pending& p) {
      if (p.at > now) return false;
      local.Settle(p.local, p.actual, now);
      redis.Settle(std::move(p.redis), p.actual);
      return true;
    });
    const uint64_t tokens = std::uniform_int_distribution<uint64_t>(10, 400)(rng);
    const std::string model = rng() % 3 == 0 ? "other" : "m";
    tenant::Admission l = local.Admit(spec, model, tokens, now);
    Result<tenant::Admission> r = AdmitNow(redis, spec, model, tokens);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->allowed, l.allowed) << "arrival " << i << " at " << now;
    ++compared;
    if (!l.allowed) {
      EXPECT_EQ(r->kind, l.kind) << i;
      EXPECT_EQ(r->retry_after_ms, l.retry_after_ms) << i;
      EXPECT_EQ(r->model_scope, l.model_scope) << i;
      continue;
    }
    EXPECT_EQ(r->requests->remaining, l.requests->remaining) << i;
    EXPECT_EQ(r->tokens->remaining, l.tokens->remaining) << i;
    admitted.push_back(now);
    const int64_t ends = now + std::uniform_int_distribution<int64_t>(50, 4'000)(rng);
    pending.push_back({ends, l.grant, r->grant, tokens / 2});
  }
  EXPECT_EQ(compared, 1500);
  EXPECT_GT(admitted.size(), 100u);
  std::deque<int64_t> window;
  for (int64_t t : admitted) {
    window.push_back(t);
    while (window.front() <= t - 60'000) window.pop_front();
    ASSERT_LE(window.size(), 40u) << "at " << t;
  }
}

TEST_F(RedisQuotaTest, AnOutageFailsFastAndHealsByItself) {
  auto redis = Backend(server_, milliseconds(200));
  const tenant::TenantSpec spec = Spec("acme", {.requests_per_minute = 1000});
  ASSERT_TRUE(AdmitNow(*redis, spec, "m", 0));
  server_.Kill();
  const auto before = std::chrono::steady_clock::now();
  Result<tenant::Admission> down = AdmitNow(*redis, spec, "m", 0);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, Errc::kUnavailable) << down.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));  // no hang
  // A new, empty Redis: the scripts are gone too (NOSCRIPT -> EVAL).
  server_.Restart();
  ASSERT_TRUE(server_.ready());
  Result<tenant::Admission> back = Unavailable("not tried");
  for (int i = 0; i < 200 && !back; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    back = AdmitNow(*redis, spec, "m", 0);
  }
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(back->allowed);
  EXPECT_EQ(back->requests->remaining, 999u);
}

TEST_F(RedisQuotaTest, AHungRedisMissesTheDeadline) {
  auto redis = Backend(server_, milliseconds(100));
  const tenant::TenantSpec spec = Spec("acme", {.requests_per_minute = 1000});
  ASSERT_TRUE(AdmitNow(*redis, spec, "m", 0));
  server_.Stop();
  Result<tenant::Admission> hung = AdmitNow(*redis, spec, "m", 0);
  ASSERT_FALSE(hung);
  server_.Continue();
  Result<tenant::Admission> back = Unavailable("not tried");
  for (int i = 0; i < 200 && !back; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    back = AdmitNow(*redis, spec, "m", 0);
  }
  ASSERT_TRUE(back) << back.error().message;
}

TEST(RedisQuotaConfigTest, BadUrlsAndTimeoutsAreRefused) {
  EXPECT_FALSE(MakeRedisQuotaBackend({.url = "http://localhost:6379"}));
  EXPECT_FALSE(MakeRedisQuotaBackend({.url = "redis://h:1", .timeout = milliseconds(0)}));
}

}  // namespace
}  // namespace brix::gateway
