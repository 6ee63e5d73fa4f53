#include "tenant/quota.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>

namespace brix::tenant {
namespace {

TenantSpec Spec(Limits limits) {
  TenantSpec spec;
  spec.name = "acme";
  spec.limits = limits;
  return spec;
}

TEST(SlidingWindowTest, CountsTheBucketsOverlappingTheLastMinute) {
  SlidingWindow w;
  w.Add(SlidingWindow::BucketOf(500), 3, 500);        // second 0
  w.Add(SlidingWindow::BucketOf(30'000), 2, 30'000);  // second 30
  EXPECT_EQ(w.Used(30'000), 5u);
  // At 60.5 s the window (0.5, 60.5] still overlaps second 0: counted (conservative).
  EXPECT_EQ(w.Used(60'500), 5u);
  // From 61 s second 0 is out of every window that ends now.
  EXPECT_EQ(w.Used(61'000), 2u);
  EXPECT_EQ(w.Used(91'000), 0u);
}

TEST(SlidingWindowTest, RefundsNeverGoBelowZeroAndIgnoreExpiredBuckets) {
  SlidingWindow w;
  w.Add(0, 10, 0);
  w.Add(0, -4, 100);
  EXPECT_EQ(w.Used(100), 6u);
  w.Add(0, -100, 200);
  EXPECT_EQ(w.Used(200), 0u);
  w.Add(0, 7, 0);
  w.Add(0, 50, 120'000);  // bucket 0 no longer counts at 120 s: ignored
  EXPECT_EQ(w.Used(120'000), 0u);
  w.Add(61, 1, 61'000);  // same ring slot as bucket 0: a newer bucket replaces it
  w.Add(0, 5, 61'000);   // the old bucket is gone; nothing to add to
  EXPECT_EQ(w.Used(61'000), 1u);
}

TEST(SlidingWindowTest, WaitMsIsExactlyWhenEnoughHasExpired) {
  SlidingWindow w;
  w.Add(SlidingWindow::BucketOf(0), 4, 0);
  w.Add(SlidingWindow::BucketOf(10'000), 4, 10'000);
  const int64_t now = 20'250;
  EXPECT_EQ(w.WaitMs(now, 2, 10), 0);
  EXPECT_EQ(w.WaitMs(now, 11, 10), -1);
  // Needs 4 freed: second 0 stops counting at 61 s.
  EXPECT_EQ(w.WaitMs(now, 6, 10), 61'000 - now);
  EXPECT_LE(w.Used(61'000 - 1) + 6, 10u + 4u);
  EXPECT_GT(w.Used(61'000 - 1) + 6, 10u);
  EXPECT_LE(w.Used(61'000) + 6, 10u);
  // Needs 5: both buckets, the second stops counting at 71 s.
  EXPECT_EQ(w.WaitMs(now, 7, 10), 71'000 - now);
  EXPECT_EQ(w.ResetMs(now), 71'000 - now);
}

// Offered at random times with bursts; whatever is admitted, no 60-second window (exact,
// sliding, at millisecond resolution) holds more than the limit.
TEST(LocalQuotaTest, NoSixtySecondWindowEverHoldsMoreThanTheLimit) {
  for (uint64_t limit : {1u, 7u, 60u, 500u}) {
    LocalQuota quota;
    const TenantSpec spec = Spec({.requests_per_minute = limit});
    std::mt19937_64 rng(limit);
    std::vector<int64_t> admitted;
    int64_t now = 0;
    for (int i = 0; i < 20'000; ++i) {
      now += std::uniform_int_distribution<int64_t>(0, rng() % 4 == 0 ? 2'000 : 30)(rng);
      Admission a = quota.Admit(spec, "m", 0, now);
      if (a.allowed) {
        admitted.push_back(now);
        quota.Settle(a.grant, 0, now);
      } else {
        ASSERT_GT(a.retry_after_ms, 0);
      }
    }
    ASSERT_GT(admitted.size(), limit);
    std::deque<int64_t> window;
    for (int64_t t : admitted) {
      window.push_back(t);
      while (window.front() <= t - SlidingWindow::kWindowMs) window.pop_front();
      ASSERT_LE(window.size(), limit) << "limit " << limit << " at " << t;
    }
  }
}

TEST(LocalQuotaTest, RetryAfterIsWhenTheRequestFits) {
  LocalQuota quota;
  const TenantSpec spec = Spec({.requests_per_minute = 3});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(quota.Admit(spec, "m", 0, 1'000 + i).allowed);
  Admission refused = quota.Admit(spec, "m", 0, 5'400);
  ASSERT_FALSE(refused.allowed);
  EXPECT_EQ(refused.kind, LimitKind::kRequests);
  EXPECT_EQ(refused.limit, 3u);
  EXPECT_EQ(refused.used, 3u);
  EXPECT_TRUE(refused.model_scope.empty());
  EXPECT_EQ(refused.retry_after_ms, 62'000 - 5'400);
  ASSERT_TRUE(refused.requests);
  EXPECT_EQ(refused.requests->remaining, 0u);
  EXPECT_FALSE(quota.Admit(spec, "m", 0, 5'400 + refused.retry_after_ms - 1).allowed);
  EXPECT_TRUE(quota.Admit(spec, "m", 0, 5'400 + refused.retry_after_ms).allowed);
}

TEST(LocalQuotaTest, TokensAreReservedThenSettledToWhatWasUsed) {
  LocalQuota quota;
  const TenantSpec spec = Spec({.tokens_per_minute = 1000});
  Admission a = quota.Admit(spec, "m", 800, 0);  // prompt 300 + max_tokens 500
  ASSERT_TRUE(a.allowed);
  ASSERT_TRUE(a.tokens);
  EXPECT_EQ(a.tokens->remaining, 200u);
  Admission b = quota.Admit(spec, "m", 300, 10);
  ASSERT_FALSE(b.allowed);
  EXPECT_EQ(b.kind, LimitKind::kTokens);
  EXPECT_EQ(b.used, 800u);
  EXPECT_EQ(b.requested, 300u);
  quota.Settle(a.grant, 350, 20);  // the answer was 50 tokens: 450 come back
  EXPECT_TRUE(quota.Admit(spec, "m", 300, 30).allowed);
  // A request bigger than the whole limit can never fit.
  Admission huge = quota.Admit(spec, "m", 1001, 40);
  ASSERT_FALSE(huge.allowed);
  EXPECT_EQ(huge.retry_after_ms, -1);
}

TEST(LocalQuotaTest, ConcurrencySlotsAreHeldUntilSettled) {
  LocalQuota quota;
  const TenantSpec spec = Spec({.max_concurrent = 2});
  Admission a = quota.Admit(spec, "m", 0, 0);
  Admission b = quota.Admit(spec, "m", 0, 0);
  ASSERT_TRUE(a.allowed && b.allowed);
  Admission c = quota.Admit(spec, "m", 0, 0);
  ASSERT_FALSE(c.allowed);
  EXPECT_EQ(c.kind, LimitKind::kConcurrent);
  EXPECT_EQ(c.retry_after_ms, 1000);
  quota.Settle(a.grant, 0, 5);
  EXPECT_TRUE(quota.Admit(spec, "m", 0, 6).allowed);
}

TEST(LocalQuotaTest, AllOrNothingAcrossTheTenantAndModelScopes) {
  LocalQuota quota;
  TenantSpec spec = Spec({.requests_per_minute = 10});
  spec.model_limits["big"] = {.requests_per_minute = 1};
  ASSERT_TRUE(quota.Admit(spec, "big", 0, 0).allowed);
  Admission refused = quota.Admit(spec, "big", 0, 1);
  ASSERT_FALSE(refused.allowed);
  EXPECT_EQ(refused.model_scope, "big");
  EXPECT_EQ(refused.limit, 1u);
  EXPECT_TRUE(refused.grant.slot_scopes.empty());
  // The refusal charged nothing to the tenant's scope: 9 more fit on other models.
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(quota.Admit(spec, "small", 0, 2).allowed) << i;
  Admission tenant_full = quota.Admit(spec, "small", 0, 3);
  ASSERT_FALSE(tenant_full.allowed);
  EXPECT_TRUE(tenant_full.model_scope.empty());
}

TEST(LocalQuotaTest, ReportsTheLimitThatKeepsTheRequestOutLongest) {
  LocalQuota quota;
  TenantSpec spec = Spec({.requests_per_minute = 1, .tokens_per_minute = 100});
  ASSERT_TRUE(quota.Admit(spec, "m", 10, 0).allowed);
  Admission refused = quota.Admit(spec, "m", 500, 1'000);
  ASSERT_FALSE(refused.allowed);
  EXPECT_EQ(refused.kind, LimitKind::kTokens);  // never fits beats "in 60 s"
  EXPECT_EQ(refused.retry_after_ms, -1);
}

TEST(LocalQuotaTest, NoLimitsMeansNoScopesAndAlwaysAllowed) {
  LocalQuota quota;
  TenantSpec spec = Spec({.max_tokens_per_request = 100});
  EXPECT_TRUE(ScopesFor(spec, "m").empty());
  Admission a = quota.Admit(spec, "m", 1'000'000, 0);
  EXPECT_TRUE(a.allowed);
  EXPECT_FALSE(a.requests);
  EXPECT_FALSE(a.tokens);
}

}  // namespace
}  // namespace brix::tenant
