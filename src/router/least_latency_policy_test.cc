#include "router/least_latency_policy.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace brix::router {
namespace {

// 1 ms per prefill token, 10 ms per decode step, 1000 tokens per step: easy arithmetic.
class ToyLatency final : public LatencyModel {
 public:
  double PrefillSeconds(int64_t new_tokens, int64_t) const override { return 1e-3 * new_tokens; }
  double DecodeStepSeconds(int64_t batch, int64_t) const override { return batch > 0 ? 0.01 : 0; }
  int64_t StepTokenBudget() const override { return 1000; }
};

class FixedCache final : public CacheProbe {
 public:
  explicit FixedCache(int64_t tokens) : tokens_(tokens) {}
  int64_t CachedPrefixTokens(std::span<const uint32_t>) const override { return tokens_; }

 private:
  int64_t tokens_;
};

std::vector<uint32_t> Prompt(size_t tokens) {
  std::vector<uint32_t> ids(tokens);
  std::iota(ids.begin(), ids.end(), 0u);
  return ids;
}

LeastLatencyPolicy Make(LeastLatencyPolicy::Options mode = {}) {
  return LeastLatencyPolicy("least-latency", {.latency = std::make_shared<ToyLatency>()}, mode);
}

TEST(LeastLatencyPolicyTest, EstimatesQueueAndUncachedPrefill) {
  LeastLatencyPolicy policy = Make();
  const std::vector<uint32_t> ids = Prompt(1280);  // 20 blocks of 64
  std::vector<EndpointView> e = {{.name = "a", .in_flight = 2, .awaiting_prompt_tokens = 500},
                                 {.name = "b", .in_flight = 0}};
  std::vector<double> s(2);
  ASSERT_TRUE(policy.Score({.token_ids = ids}, e, s));
  // a: (500 + 1280) tokens = 1.78 s + 2 steps x 10 ms; b: 1.28 s, no decode batch.
  EXPECT_NEAR(s[0], 1.78 + 0.02, 1e-9);
  EXPECT_NEAR(s[1], 1.28, 1e-9);
  EXPECT_EQ(*policy.Pick({.token_ids = ids}, e), 1u);
}

TEST(LeastLatencyPolicyTest, ACachedPrefixOutweighsASmallQueue) {
  LeastLatencyPolicy policy = Make();
  const std::vector<uint32_t> ids = Prompt(1280);
  std::vector<EndpointView> e = {{.name = "a"}, {.name = "b"}};
  policy.Observe({.token_ids = std::span(ids).first(1024)}, e[0]);  // a holds 16 blocks
  e[0].in_flight = 1;
  e[0].awaiting_prompt_tokens = 300;
  std::vector<double> s(2);
  ASSERT_TRUE(policy.Score({.token_ids = ids}, e, s));
  // a: backlog 300 x (1 - 0) + 256 new = 0.556 s + 1 step; b: 1.28 s.
  EXPECT_NEAR(s[0], 0.556 + 0.01, 1e-9);
  EXPECT_EQ(*policy.Pick({.token_ids = ids}, e), 0u);
  // The queue ahead is discounted by a's recent hit fraction: route a cached prompt there.
  policy.Observe({.token_ids = ids}, e[0]);  // 1024 of 1280 were cached: hit = 0.8
  ASSERT_TRUE(policy.Score({.token_ids = ids}, e, s));
  EXPECT_NEAR(s[0], 1e-3 * (300 * (1 - 0.8 / 32)) + 0.01, 1e-3);
}

TEST(LeastLatencyPolicyTest, TheQueueAheadIsWhatEachWaitingRequestLeftUncached) {
  LeastLatencyPolicy policy = Make();
  std::vector<EndpointView> e = {{.name = "a"}, {.name = "b"}};
  // a has served one conversation: 31 prompts of 1,280 tokens, all but the first fully cached,
  // so its average hit fraction is ~0.6.
  const std::vector<uint32_t> conversation = Prompt(1280);
  for (int i = 0; i < 31; ++i) policy.Observe({.token_ids = conversation}, e[0]);
  // Then a long prompt it holds nothing of: 2,000 tokens, all uncached.
  std::vector<uint32_t> other(2000);
  std::iota(other.begin(), other.end(), 100000u);
  policy.Observe({.token_ids = other}, e[0]);
  // a and b both have 2,000 prompt tokens awaiting a first token. On a that is the long miss,
  // the newest request routed there: it counts in full (the average hit would have made it
  // ~800). Of b's queue nothing is known: its tokens count x (1 - b's hit) = x 1.
  e[0].awaiting_first_token = 1;
  e[0].awaiting_prompt_tokens = 2000;
  e[1].awaiting_first_token = 1;
  e[1].awaiting_prompt_tokens = 2000;
  const std::vector<uint32_t> small = Prompt(64 * 3);  // a holds these 3 blocks
  std::vector<double> s(2);
  ASSERT_TRUE(policy.Score({.token_ids = small}, e, s));
  EXPECT_NEAR(s[0], 2.0, 1e-9);          // 2,000 queued + 0 new, no decode batch
  EXPECT_NEAR(s[1], 2.0 + 0.192, 1e-9);  // 2,000 queued + 192 new
  // Two waiting on a: the miss and the conversation's last turn, which was all cached.
  e[0].awaiting_first_token = 2;
  e[0].awaiting_prompt_tokens = 2000 + 1280;
  ASSERT_TRUE(policy.Score({.token_ids = small}, e, s));
  EXPECT_NEAR(s[0], 2.0, 1e-9);
}

TEST(LeastLatencyPolicyTest, TheEnginesOwnHitCountsCorrectAnOptimisticIndex) {
  LeastLatencyPolicy policy = Make();
  std::vector<EndpointView> e = {{.name = "a"}};
  // 100 prompts of 1,280 tokens routed to a, all but the first expected fully cached: the index
  // predicts 99% of their tokens hit.
  const std::vector<uint32_t> conversation = Prompt(1280);
  for (int i = 0; i < 100; ++i) policy.Observe({.token_ids = conversation}, e[0]);
  e[0].awaiting_first_token = 1;
  e[0].awaiting_prompt_tokens = 1280;
  const std::vector<uint32_t> small = Prompt(64 * 3);
  std::vector<double> s(1);
  // Until the engine has reported, the index is believed: the waiting prompt is all cached.
  EngineMetrics metrics{.prefix_cache_queries = 0, .prefix_cache_hits = 0};
  e[0].metrics = &metrics;
  ASSERT_TRUE(policy.Score({.token_ids = small}, e, s));
  EXPECT_NEAR(s[0], 0, 1e-9);
  // The engine hit only half of those 128,000 tokens (it evicted what the index still lists):
  // the waiting prompt's cached part shrinks by 0.5 / 0.99.
  metrics.prefix_cache_queries = 128000;
  metrics.prefix_cache_hits = 64000;
  ASSERT_TRUE(policy.Score({.token_ids = small}, e, s));
  EXPECT_NEAR(s[0], 1e-3 * 1280 * (1 - 0.5 / 0.99), 1e-3);
}

TEST(LeastLatencyPolicyTest, BrixChargesACacheMissToTheQueueBehindIt) {
  const std::vector<uint32_t> ids = Prompt(1280);
  std::vector<EndpointView> e = {
      {.name = "a", .in_flight = 2, .awaiting_first_token = 2, .awaiting_prompt_tokens = 1200},
      {.name = "b", .in_flight = 1, .awaiting_first_token = 1, .awaiting_prompt_tokens = 100}};
  LeastLatencyPolicy greedy = Make();
  LeastLatencyPolicy brix = Make({.miss_penalty = true});
  for (LeastLatencyPolicy* p : {&greedy, &brix}) {
    p->Observe({.token_ids = std::span(ids).first(1024)}, e[0]);  // a holds 16 blocks
  }
  // a: (1200 + 256) ms + 2 steps x 10 ms = 1.476 s; b: (100 + 1280) ms + 2 x 10 ms = 1.4 s.
  EXPECT_EQ(*greedy.Pick({.token_ids = ids}, e), 1u);
  // brix adds to b the 1,024 tokens it would prefill beyond a's miss, times 3 per request
  // already waiting there plus 10 x its (still small) average queue: a wins.
  std::vector<double> s(2);
  ASSERT_TRUE(brix.Score({.token_ids = ids}, e, s));
  EXPECT_NEAR(s[0], 1.476 + 0, 1e-9);
  EXPECT_GT(s[1], 1.4 + 3 * 1.024);
  EXPECT_EQ(*brix.Pick({.token_ids = ids}, e), 0u);
  // On an idle endpoint the move is free: b wins when nothing waits there.
  e[1] = {.name = "b"};
  LeastLatencyPolicy fresh = Make({.miss_penalty = true});
  fresh.Observe({.token_ids = std::span(ids).first(1024)}, e[0]);
  EXPECT_EQ(*fresh.Pick({.token_ids = ids}, e), 1u);
}

TEST(LeastLatencyPolicyTest, UsesEachEndpointsOwnModel) {
  LeastLatencyPolicy policy = Make();
  ToyLatency toy;
  class Slow final : public LatencyModel {
    double PrefillSeconds(int64_t n, int64_t) const override { return 3e-3 * n; }
    double DecodeStepSeconds(int64_t, int64_t) const override { return 0; }
    int64_t StepTokenBudget() const override { return 1000; }
  } slow;
  std::vector<EndpointView> e = {{.name = "old", .latency = &slow},
                                 {.name = "new", .awaiting_prompt_tokens = 1000, .latency = &toy}};
  const std::vector<uint32_t> ids = Prompt(400);
  // old: 400 x 3 ms = 1.2 s; new: (1000 + 400) x 1 ms = 1.4 s (no decode batch): old wins.
  EXPECT_EQ(*policy.Pick({.token_ids = ids}, e), 0u);
  e[1].awaiting_prompt_tokens = 500;  // new: 0.9 s
  EXPECT_EQ(*policy.Pick({.token_ids = ids}, e), 1u);
}

TEST(LeastLatencyPolicyTest, OracleAsksTheEngines) {
  LeastLatencyPolicy oracle = Make({.oracle = true});
  FixedCache none(0);
  FixedCache most(1000);
  std::vector<EndpointView> e = {{.name = "a", .cache = &none}, {.name = "b", .cache = &most}};
  EXPECT_EQ(*oracle.Pick({.token_ids = Prompt(1200)}, e), 1u);
  std::vector<double> s(2);
  ASSERT_TRUE(oracle.Score({.token_ids = Prompt(1200)}, e, s));
  EXPECT_NEAR(s[1], 0.2, 1e-9);
}

}  // namespace
}  // namespace brix::router
