#include "router/least_request_policy.h"

#include <gtest/gtest.h>

#include <vector>

#include "router/internal/select.h"

namespace brix::router {
namespace {

using internal::DrawForIndex;

std::vector<EndpointView> WithInFlight(std::initializer_list<int64_t> counts) {
  std::vector<EndpointView> endpoints;
  for (int64_t c : counts) endpoints.push_back({.in_flight = c});
  return endpoints;
}

size_t Pick(Policy& policy, uint64_t random, const std::vector<EndpointView>& endpoints) {
  Result<size_t> pick = policy.Pick({.random = random}, endpoints);
  EXPECT_TRUE(pick.has_value());
  return pick ? *pick : endpoints.size();
}

TEST(LeastRequestPolicyTest, PicksTheFewestInFlight) {
  LeastRequestPolicy policy;
  EXPECT_EQ(Pick(policy, 0, WithInFlight({5, 3, 9, 4})), 1u);
  EXPECT_EQ(Pick(policy, ~uint64_t{0}, WithInFlight({5, 3, 9, 4})), 1u);
  EXPECT_EQ(Pick(policy, 0, WithInFlight({2, 2, 2, 0})), 3u);
}

TEST(LeastRequestPolicyTest, BreaksTiesUniformlyWithTheRandomDraw) {
  LeastRequestPolicy policy;
  // Tied at 1: candidates 1, 3 and 4, in that order.
  const std::vector<EndpointView> endpoints = WithInFlight({4, 1, 2, 1, 1});
  EXPECT_EQ(Pick(policy, DrawForIndex(0, 3), endpoints), 1u);
  EXPECT_EQ(Pick(policy, DrawForIndex(1, 3), endpoints), 3u);
  EXPECT_EQ(Pick(policy, DrawForIndex(2, 3), endpoints), 4u);
  EXPECT_EQ(Pick(policy, ~uint64_t{0}, endpoints), 4u);

  std::vector<int> counts(endpoints.size());
  constexpr uint64_t kDraws = 3000;
  for (uint64_t d = 0; d < kDraws; ++d) ++counts[Pick(policy, DrawForIndex(d, kDraws), endpoints)];
  EXPECT_EQ(counts, (std::vector<int>{0, 1000, 0, 1000, 1000}));
}

TEST(LeastRequestPolicyTest, IgnoresScrapedEngineLoad) {
  LeastRequestPolicy policy;
  const EngineMetrics busy{.running = 200, .waiting = 50, .kv_cache_usage = 0.99};
  const EngineMetrics idle{.running = 0, .waiting = 0, .kv_cache_usage = 0.01};
  std::vector<EndpointView> endpoints = WithInFlight({1, 2});
  endpoints[0].metrics = &busy;
  endpoints[1].metrics = &idle;
  EXPECT_EQ(Pick(policy, 0, endpoints), 0u);
}

TEST(LeastRequestPolicyTest, HandlesLargeCounts) {
  LeastRequestPolicy policy;
  EXPECT_EQ(Pick(policy, 0, WithInFlight({int64_t{1} << 40, (int64_t{1} << 40) - 1})), 1u);
}

}  // namespace
}  // namespace brix::router
