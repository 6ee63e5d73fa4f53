#include "router/least_kv_cache_policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "router/internal/select.h"

namespace brix::router {
namespace {

using internal::DrawForIndex;

size_t Pick(Policy& policy, uint64_t random, const std::vector<EndpointView>& endpoints) {
  Result<size_t> pick = policy.Pick({.random = random}, endpoints);
  EXPECT_TRUE(pick.has_value());
  return pick ? *pick : endpoints.size();
}

std::vector<EndpointView> WithMetrics(const std::vector<EngineMetrics>& metrics) {
  std::vector<EndpointView> endpoints;
  for (const EngineMetrics& m : metrics) endpoints.push_back({.metrics = &m});
  return endpoints;
}

TEST(LeastKvCachePolicyTest, PicksTheLowestKvCacheUsage) {
  LeastKvCachePolicy policy;
  const std::vector<EngineMetrics> metrics = {
      {.kv_cache_usage = 0.5}, {.kv_cache_usage = 0.2}, {.kv_cache_usage = 0.9}};
  EXPECT_EQ(Pick(policy, 0, WithMetrics(metrics)), 1u);
  EXPECT_EQ(Pick(policy, ~uint64_t{0}, WithMetrics(metrics)), 1u);
}

TEST(LeastKvCachePolicyTest, AddsCpuCacheUsageAndCountsItsAbsenceAsZero) {
  LeastKvCachePolicy policy;
  const std::vector<EngineMetrics> metrics = {
      {.kv_cache_usage = 0.2, .cpu_cache_usage = 0.5},  // 0.7
      {.kv_cache_usage = 0.4, .cpu_cache_usage = 0.1},  // 0.5
      {.kv_cache_usage = 0.6},                          // 0.6: no cpu cache (vLLM V1)
  };
  EXPECT_EQ(Pick(policy, 0, WithMetrics(metrics)), 1u);
}

TEST(LeastKvCachePolicyTest, IgnoresInFlightWhileMetricsExist) {
  LeastKvCachePolicy policy;
  const std::vector<EngineMetrics> metrics = {{.kv_cache_usage = 0.3}, {.kv_cache_usage = 0.1}};
  std::vector<EndpointView> endpoints = WithMetrics(metrics);
  endpoints[0].in_flight = 0;
  endpoints[1].in_flight = 100;
  EXPECT_EQ(Pick(policy, 0, endpoints), 1u);
}

TEST(LeastKvCachePolicyTest, BreaksTiesUniformlyWithTheRandomDraw) {
  LeastKvCachePolicy policy;
  const std::vector<EngineMetrics> metrics = {
      {.kv_cache_usage = 0.25}, {.kv_cache_usage = 0.5}, {.kv_cache_usage = 0.25}};
  EXPECT_EQ(Pick(policy, DrawForIndex(0, 2), WithMetrics(metrics)), 0u);
  EXPECT_EQ(Pick(policy, DrawForIndex(1, 2), WithMetrics(metrics)), 2u);
}

TEST(LeastKvCachePolicyTest, PrefersEndpointsWithMetricsOverUnknownOnes) {
  LeastKvCachePolicy policy;
  const EngineMetrics full{.kv_cache_usage = 0.95};
  const EngineMetrics no_kv_gauge{.running = 0, .waiting = 0};
  const EngineMetrics nan_usage{.kv_cache_usage = std::nan("")};
  const std::vector<EndpointView> endpoints = {
      {.in_flight = 0, .metrics = nullptr},       // never scraped
      {.in_flight = 0, .metrics = &no_kv_gauge},  // scraped, no KV usage on its page
      {.in_flight = 0, .metrics = &nan_usage},
      {.in_flight = 50, .metrics = &full},
  };
  for (uint64_t random : {uint64_t{0}, ~uint64_t{0}})
    EXPECT_EQ(Pick(policy, random, endpoints), 3u);
}

TEST(LeastKvCachePolicyTest, FallsBackToLeastRequestWhenNoEndpointHasMetrics) {
  LeastKvCachePolicy policy;
  const EngineMetrics no_kv_gauge{.running = 3};
  const std::vector<EndpointView> endpoints = {
      {.in_flight = 4, .metrics = nullptr},
      {.in_flight = 2, .metrics = &no_kv_gauge},
      {.in_flight = 7, .metrics = nullptr},
      {.in_flight = 2, .metrics = nullptr},
  };
  EXPECT_EQ(Pick(policy, DrawForIndex(0, 2), endpoints), 1u);
  EXPECT_EQ(Pick(policy, DrawForIndex(1, 2), endpoints), 3u);
}

}  // namespace
}  // namespace brix::router
