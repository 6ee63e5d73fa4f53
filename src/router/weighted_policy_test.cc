#include "router/weighted_policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "router/internal/select.h"
#include "router/prefix_cache_policy.h"

namespace brix::router {
namespace {

using internal::DrawForIndex;

TEST(NormalizeScoresTest, MinMaxWithOneBest) {
  std::vector<double> s = {2, 4, 6};
  NormalizeScores(Polarity::kHigherIsBetter, s);
  EXPECT_EQ(s, (std::vector<double>{0, 0.5, 1}));
  s = {2, 4, 6};
  NormalizeScores(Polarity::kLowerIsBetter, s);
  EXPECT_EQ(s, (std::vector<double>{1, 0.5, 0}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  s = {nan, 3, 3};  // unscored -> 0; all scored equal -> 1
  NormalizeScores(Polarity::kLowerIsBetter, s);
  EXPECT_EQ(s, (std::vector<double>{0, 1, 1}));
}

TEST(WeightedPolicyTest, ParsesAibrixSyntax) {
  Result<std::unique_ptr<Policy>> p = MakePolicy("prefix-cache:2,least-request");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ((*p)->name(), "prefix-cache:2,least-request");
  EXPECT_TRUE((*p)->needs_tokens());
  EXPECT_TRUE(MakePolicy("least-request:3").has_value());
  EXPECT_TRUE(MakePolicy(" least-request , least-kv-cache:0").has_value());
  EXPECT_FALSE((*MakePolicy("least-request,least-kv-cache"))->needs_tokens());
}

TEST(WeightedPolicyTest, RejectsBadSpecsNamingThePart) {
  auto error = [](std::string_view spec) {
    Result<std::unique_ptr<Policy>> p = MakePolicy(spec);
    EXPECT_FALSE(p.has_value()) << spec;
    return p ? std::string() : p.error().message;
  };
  EXPECT_NE(error("least-request,").find("empty part"), std::string::npos);
  EXPECT_NE(error("least-request:x").find("weight \"x\""), std::string::npos);
  EXPECT_NE(error("least-request:-1").find("weight"), std::string::npos);
  EXPECT_NE(error("least-request:1000001").find("weight"), std::string::npos);
  EXPECT_NE(error("least-request,least-request:2").find("twice"), std::string::npos);
  EXPECT_NE(error("least-request,round-robin").find("\"round-robin\" cannot be combined"),
            std::string::npos);
  EXPECT_NE(error("least-request,nope").find("unknown routing strategy \"nope\""),
            std::string::npos);
  EXPECT_NE(error("least-request:0").find("every weight is 0"), std::string::npos);
}

TEST(WeightedPolicyTest, WeightsDecide) {
  // b holds the prompt but is the busiest: alone, prefix-cache's guard still allows it
  // (5 <= 1 + 4), least-request would pick c. The weights decide between the two.
  std::vector<uint32_t> ids(4 * PrefixCachePolicy::kBlockSize);
  std::iota(ids.begin(), ids.end(), 0u);
  std::vector<EndpointView> endpoints = {
      {.name = "a", .in_flight = 3}, {.name = "b", .in_flight = 5}, {.name = "c", .in_flight = 1}};
  auto route = [&](std::string_view spec) {
    std::unique_ptr<Policy> p = std::move(*MakePolicy(spec));
    p->Observe({.token_ids = ids}, endpoints[1]);
    return *p->Pick({.token_ids = ids}, endpoints);
  };
  // prefix: a 0, b 1, c 0. load (lower better) normalised: a 0.5, b 0, c 1.
  EXPECT_EQ(route("prefix-cache:2,least-request"), 1u);  // b 2/3, c 1/3
  EXPECT_EQ(route("prefix-cache,least-request:2"), 2u);  // b 1/3, c 2/3
  // Exactly equal totals tie, and the draw picks among them.
  std::unique_ptr<Policy> even = std::move(*MakePolicy("prefix-cache,least-request"));
  even->Observe({.token_ids = ids}, endpoints[1]);
  EXPECT_EQ(*even->Pick({.token_ids = ids, .random = DrawForIndex(0, 2)}, endpoints), 1u);
  EXPECT_EQ(*even->Pick({.token_ids = ids, .random = DrawForIndex(1, 2)}, endpoints), 2u);
}

TEST(WeightedPolicyTest, EveryPartLearnsFromEveryRoute) {
  std::unique_ptr<Policy> p = std::move(*MakePolicy("prefix-cache:1,least-request:1000"));
  std::vector<uint32_t> ids(2 * PrefixCachePolicy::kBlockSize, 7);
  const std::vector<std::string> models = {"m"};
  std::vector<EndpointView> endpoints = {{.name = "a", .in_flight = 1, .models = models},
                                         {.name = "b", .models = models}};
  Result<size_t> first = Route(*p, {.model = "m", .token_ids = ids}, endpoints);
  ASSERT_EQ(*first, 1u);  // least-request dominates
  std::vector<double> scores(2);
  ASSERT_TRUE(p->Score({.token_ids = ids}, endpoints, scores));
  // b now holds the prompt (prefix part 1 for b) and is less loaded: b's total is the maximum.
  EXPECT_DOUBLE_EQ(scores[1], 1.0);
  EXPECT_DOUBLE_EQ(scores[0], 0.0);
}

}  // namespace
}  // namespace brix::router
