#include "router/random_policy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "router/internal/select.h"

namespace brix::router {
namespace {

using internal::DrawForIndex;

std::vector<EndpointView> Endpoints(size_t n) {
  std::vector<EndpointView> endpoints(n);
  for (size_t i = 0; i < n; ++i) endpoints[i].in_flight = static_cast<int64_t>(i);
  return endpoints;
}

size_t Pick(Policy& policy, uint64_t random, const std::vector<EndpointView>& endpoints) {
  Result<size_t> pick = policy.Pick({.random = random}, endpoints);
  EXPECT_TRUE(pick.has_value());
  return pick ? *pick : endpoints.size();
}

TEST(RandomPolicyTest, MapsTheDrawsRangeOntoCandidatesInOrder) {
  RandomPolicy policy;
  const std::vector<EndpointView> endpoints = Endpoints(5);
  EXPECT_EQ(Pick(policy, 0, endpoints), 0u);
  EXPECT_EQ(Pick(policy, std::numeric_limits<uint64_t>::max(), endpoints), 4u);
  EXPECT_EQ(Pick(policy, uint64_t{1} << 63, endpoints), 2u);  // the middle of five
  for (size_t k = 0; k < endpoints.size(); ++k) {
    EXPECT_EQ(Pick(policy, DrawForIndex(k, endpoints.size()), endpoints), k);
    if (k > 0) {
      EXPECT_EQ(Pick(policy, DrawForIndex(k, endpoints.size()) - 1, endpoints), k - 1);
    }
  }
}

TEST(RandomPolicyTest, EvenlySpacedDrawsSpreadEvenly) {
  RandomPolicy policy;
  const std::vector<EndpointView> endpoints = Endpoints(7);
  std::vector<int> counts(endpoints.size());
  constexpr uint64_t kDraws = 7000;
  for (uint64_t d = 0; d < kDraws; ++d) ++counts[Pick(policy, DrawForIndex(d, kDraws), endpoints)];
  for (int c : counts) EXPECT_EQ(c, 1000);
}

TEST(RandomPolicyTest, IgnoresLoad) {
  RandomPolicy policy;
  std::vector<EndpointView> endpoints = Endpoints(3);
  endpoints[0].in_flight = 1000;
  EXPECT_EQ(Pick(policy, 0, endpoints), 0u);
}

TEST(RandomPolicyTest, SingleCandidateIsAlwaysPicked) {
  RandomPolicy policy;
  const std::vector<EndpointView> endpoints = Endpoints(1);
  EXPECT_EQ(Pick(policy, 0, endpoints), 0u);
  EXPECT_EQ(Pick(policy, std::numeric_limits<uint64_t>::max(), endpoints), 0u);
}

}  // namespace
}  // namespace brix::router
