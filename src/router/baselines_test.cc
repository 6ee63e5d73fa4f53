// The reimplemented baselines: aibrix-prefix-cache, sglang-cache-aware, llm-d.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "router/aibrix_prefix_cache_policy.h"
#include "router/internal/select.h"
#include "router/llm_d_policy.h"
#include "router/sglang_cache_aware_policy.h"

namespace brix::router {
namespace {

using internal::DrawForIndex;

std::vector<uint32_t> Prompt(size_t tokens, uint32_t first = 0) {
  std::vector<uint32_t> ids(tokens);
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

std::vector<EndpointView> Loads(std::initializer_list<int64_t> in_flight) {
  static const char* kNames[] = {"a", "b", "c", "d", "e"};
  std::vector<EndpointView> e;
  for (int64_t n : in_flight) e.push_back({.name = kNames[e.size()], .in_flight = n});
  return e;
}

TEST(AibrixPrefixCacheTest, FollowsTheMatchWithinMeanPlusTwoSigma) {
  AibrixPrefixCachePolicy p;
  const std::vector<uint32_t> ids = Prompt(320);  // 10 blocks of 32 tokens
  std::vector<EndpointView> e = Loads({0, 0, 0, 0});
  p.Observe({.token_ids = ids}, e[2]);
  EXPECT_EQ(*p.Pick({.token_ids = ids}, e), 2u);
  // Loads 0,0,6,0: mean 1.5, sample sigma 3, bound 7.5: c still qualifies.
  e[2].in_flight = 6;
  EXPECT_EQ(*p.Pick({.token_ids = ids}, e), 2u);
  // Loads 1,1,9,1: mean 3, sigma 4, bound 11: still c.
  e = Loads({1, 1, 9, 1});
  EXPECT_EQ(*p.Pick({.token_ids = ids}, e), 2u);
  // Spread above 16: only the least loaded may match; c is not among them -> least-request.
  e = Loads({1, 2, 18, 3});
  EXPECT_EQ(*p.Pick({.token_ids = ids}, e), 0u);
}

TEST(AibrixPrefixCacheTest, PartialMatchesRankByPercentThenLoad) {
  AibrixPrefixCachePolicy p;
  const std::vector<uint32_t> ids = Prompt(320);
  std::vector<EndpointView> e = Loads({0, 0, 0});
  p.Observe({.token_ids = std::span(ids).first(160)}, e[0]);  // 50%
  p.Observe({.token_ids = std::span(ids).first(96)}, e[1]);   // 30%
  std::vector<double> s(3);
  ASSERT_TRUE(p.Score({.token_ids = ids}, e, s));
  EXPECT_EQ(s, (std::vector<double>{50, 30, 0}));
  EXPECT_EQ(*p.Pick({.token_ids = ids, .random = DrawForIndex(1, 2)}, e), 0u);
  // Every route is recorded, whoever chose it: c gets the whole prompt.
  p.Observe({.token_ids = ids}, e[2]);
  ASSERT_TRUE(p.Score({.token_ids = ids}, e, s));
  EXPECT_EQ(s, (std::vector<double>{50, 30, 100}));
}

TEST(SglangCacheAwareTest, ThresholdAndBalance) {
  SglangCacheAwarePolicy p;
  const std::vector<uint32_t> ids = Prompt(640);  // 10 blocks of 64
  std::vector<EndpointView> e = Loads({0, 3, 0});
  p.Observe({.token_ids = std::span(ids).first(256)}, e[1]);  // 40% > 0.3
  EXPECT_EQ(*p.Pick({.token_ids = ids}, e), 1u);
  // 20% is a miss: the least loaded (a or c, by the draw).
  SglangCacheAwarePolicy q;
  q.Observe({.token_ids = std::span(ids).first(128)}, e[1]);
  EXPECT_EQ(*q.Pick({.token_ids = ids, .random = DrawForIndex(1, 2)}, e), 2u);
  // Imbalanced (100 - 10 > 64 and 100 > 1.5 x 10): the least loaded, match or not.
  e = Loads({10, 100, 20});
  EXPECT_EQ(*p.Pick({.token_ids = ids}, e), 0u);
  // A spread of 64 or less is balanced: b keeps its prompt.
  e = Loads({10, 74, 20});
  EXPECT_EQ(*p.Pick({.token_ids = ids}, e), 1u);
}

TEST(LlmDTest, ScorerMix) {
  LlmDPolicy p;
  std::vector<uint32_t> ids = Prompt(200);  // 3 full blocks + a partial one
  std::vector<uint64_t> h;
  LlmDPolicy::Hashes(ids, h);
  EXPECT_EQ(h.size(), 4u);
  EngineMetrics busy{.waiting = 4, .kv_cache_usage = 0.4};
  EngineMetrics idle{.waiting = 0, .kv_cache_usage = 0.1};
  std::vector<EndpointView> e = {
      {.name = "a", .metrics = &busy}, {.name = "b", .metrics = &idle}, {.name = "c"}};
  p.Observe({.token_ids = ids}, e[0]);
  std::vector<double> s(3);
  ASSERT_TRUE(p.Score({.token_ids = ids}, e, s));
  EXPECT_DOUBLE_EQ(s[0], 2 * 0 + 2 * 0.6 + 3 * 1);  // longest queue, 40% KV used, full match
  EXPECT_DOUBLE_EQ(s[1], 2 * 1 + 2 * 0.9 + 0);
  EXPECT_DOUBLE_EQ(s[2], 2 * 1 + 2 * 1 + 0);  // never scraped: 0 waiting, 0 usage
  EXPECT_EQ(*p.Pick({.token_ids = ids}, e), 0u);
}

}  // namespace
}  // namespace brix::router
