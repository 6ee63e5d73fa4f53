#include "router/round_robin_policy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace brix::router {
namespace {

size_t Pick(Policy& policy, size_t n, uint64_t random = 0) {
  const std::vector<EndpointView> endpoints(n);
  Result<size_t> pick = policy.Pick({.random = random}, endpoints);
  EXPECT_TRUE(pick.has_value());
  return pick ? *pick : n;
}

TEST(RoundRobinPolicyTest, CyclesThroughCandidatesInOrder) {
  RoundRobinPolicy policy;
  std::vector<size_t> picks;
  for (int i = 0; i < 7; ++i) picks.push_back(Pick(policy, 3));
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(RoundRobinPolicyTest, GivesEveryCandidateAnEqualShare) {
  RoundRobinPolicy policy;
  constexpr size_t kEndpoints = 7;
  std::vector<int> counts(kEndpoints);
  for (size_t i = 0; i < kEndpoints * 100; ++i) ++counts[Pick(policy, kEndpoints)];
  for (int c : counts) EXPECT_EQ(c, 100);
}

TEST(RoundRobinPolicyTest, IgnoresTheRandomDraw) {
  RoundRobinPolicy policy;
  EXPECT_EQ(Pick(policy, 4, ~uint64_t{0}), 0u);
  EXPECT_EQ(Pick(policy, 4, ~uint64_t{0}), 1u);
}

TEST(RoundRobinPolicyTest, KeepsRotatingWhenTheCandidateCountChanges) {
  RoundRobinPolicy policy;
  EXPECT_EQ(Pick(policy, 2), 0u);
  EXPECT_EQ(Pick(policy, 2), 1u);
  EXPECT_EQ(Pick(policy, 3), 2u);  // turn 2 of 3
  EXPECT_EQ(Pick(policy, 3), 0u);
  EXPECT_EQ(Pick(policy, 1), 0u);
}

TEST(RoundRobinPolicyTest, ConcurrentPicksTakeDistinctTurnsAndStayFair) {
  RoundRobinPolicy policy;
  constexpr size_t kEndpoints = 8;
  constexpr int kThreads = 4;
  constexpr int kPicksPerThread = 10'000;
  const std::vector<EndpointView> endpoints(kEndpoints);
  std::vector<std::atomic<int>> counts(kEndpoints);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPicksPerThread; ++i) {
        Result<size_t> pick = policy.Pick({}, endpoints);
        if (pick && *pick < kEndpoints) counts[*pick].fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  // Every turn is taken exactly once, so the shares are exact whatever the interleaving.
  for (const std::atomic<int>& c : counts)
    EXPECT_EQ(c.load(), kThreads * kPicksPerThread / static_cast<int>(kEndpoints));
}

}  // namespace
}  // namespace brix::router
