#include "router/throughput_policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace brix::router {
namespace {

size_t Pick(Policy& policy, uint64_t random, const std::vector<EndpointView>& endpoints) {
  Result<size_t> pick = policy.Pick({.random = random}, endpoints);
  EXPECT_TRUE(pick.has_value());
  return pick ? *pick : endpoints.size();
}

EngineMetrics Served(double prompt, double generated, double finished) {
  return {.prompt_tokens = prompt, .generation_tokens = generated, .requests_finished = finished};
}

TEST(ThroughputPolicyTest, PicksTheLeastWeightedTokensPerRequestPromptCountingTwice) {
  ThroughputPolicy policy;
  const std::vector<EngineMetrics> metrics = {
      Served(1000, 1000, 10),  // (2000 + 1000) / 10 = 300
      Served(500, 1800, 10),   // (1000 + 1800) / 10 = 280: more tokens, fewer of them prompt
      Served(2000, 0, 10),     // 400
  };
  std::vector<EndpointView> endpoints;
  for (const EngineMetrics& m : metrics) endpoints.push_back({.metrics = &m});
  EXPECT_EQ(Pick(policy, 0, endpoints), 1u);
  EXPECT_EQ(Pick(policy, ~uint64_t{0}, endpoints), 1u);
  std::vector<double> scores(3);
  EXPECT_EQ(policy.Score({}, endpoints, scores), Polarity::kLowerIsBetter);
  EXPECT_DOUBLE_EQ(scores[0], 300);
  EXPECT_DOUBLE_EQ(scores[1], 280);
  EXPECT_DOUBLE_EQ(scores[2], 400);
}

TEST(ThroughputPolicyTest, UnscoredCandidatesAreSkippedAndNoneScoredFallsBackToLeastRequest) {
  ThroughputPolicy policy;
  const EngineMetrics fresh = Served(0, 0, 0);          // no finished request yet
  const EngineMetrics partial = {.prompt_tokens = 10};  // counters missing
  const EngineMetrics busy = Served(9000, 9000, 3);     // 9000 per request, but the only score
  std::vector<EndpointView> endpoints = {
      {.in_flight = 0, .metrics = &fresh},
      {.in_flight = 0, .metrics = &partial},
      {.in_flight = 5, .metrics = &busy},
      {.in_flight = 0},  // never scraped
  };
  EXPECT_EQ(Pick(policy, 0, endpoints), 2u);
  std::vector<double> scores(4);
  policy.Score({}, endpoints, scores);
  EXPECT_TRUE(std::isnan(scores[0]) && std::isnan(scores[1]) && std::isnan(scores[3]));
  endpoints[2].metrics = &fresh;  // nothing scored: fewest in flight, ties random
  for (uint64_t r : {uint64_t{0}, ~uint64_t{0}}) EXPECT_NE(Pick(policy, r, endpoints), 2u);
}

TEST(ThroughputPolicyTest, ReadsRequestsFinishedFromTheCountersMakePolicyKnowsIt) {
  auto policy = MakePolicy("throughput");
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_EQ((*policy)->name(), "throughput");
  EXPECT_FALSE((*policy)->needs_tokens());
  auto weighted = MakePolicy("throughput:2,least-request");
  EXPECT_TRUE(weighted) << weighted.error().message;
}

}  // namespace
}  // namespace brix::router
