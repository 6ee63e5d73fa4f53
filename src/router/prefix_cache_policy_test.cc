#include "router/prefix_cache_policy.h"

#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "router/internal/select.h"

namespace brix::router {
namespace {

using internal::DrawForIndex;

std::vector<uint32_t> Prompt(size_t blocks, uint32_t first) {
  std::vector<uint32_t> ids(blocks * PrefixCachePolicy::kBlockSize);
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

class PrefixCachePolicyTest : public ::testing::Test {
 protected:
  PrefixCachePolicyTest() {
    for (const char* n : {"a", "b", "c"}) endpoints_.push_back({.name = n, .address = n});
  }
  // Routes through Route() so Observe records the pick.
  size_t RouteTo(const std::vector<uint32_t>& ids, uint64_t random = 0) {
    RouteRequest request{.token_ids = ids, .random = random};
    Result<size_t> pick = policy_.Pick(request, endpoints_);
    EXPECT_TRUE(pick.has_value());
    policy_.Observe(request, endpoints_[*pick]);
    return *pick;
  }

  PrefixCachePolicy policy_;
  std::vector<EndpointView> endpoints_;
};

TEST_F(PrefixCachePolicyTest, FollowsTheCachedPrefix) {
  const std::vector<uint32_t> conversation = Prompt(4, 0);
  endpoints_[0].in_flight = 1;
  endpoints_[2].in_flight = 1;
  EXPECT_EQ(RouteTo(conversation), 1u);  // nothing cached: least-request
  endpoints_[1].in_flight = 1;
  // The next turn extends the conversation: it goes where the first turn went, whatever the
  // draw, although a, b and c are equally loaded.
  std::vector<uint32_t> next = conversation;
  const std::vector<uint32_t> more = Prompt(2, 50000);
  next.insert(next.end(), more.begin(), more.end());
  for (uint64_t r : {DrawForIndex(0, 3), DrawForIndex(2, 3)}) EXPECT_EQ(RouteTo(next, r), 1u);
}

TEST_F(PrefixCachePolicyTest, LoadGuardSpreadsAHotPrefix) {
  const std::vector<uint32_t> system_prompt = Prompt(8, 0);
  EXPECT_EQ(RouteTo(system_prompt, DrawForIndex(0, 3)), 0u);
  // a holds the prefix. Within min + 4 it keeps it...
  endpoints_[0].in_flight = 4;
  EXPECT_EQ(RouteTo(system_prompt), 0u);
  // ...beyond, the least busy takes it (and now also holds it).
  endpoints_[0].in_flight = 5;
  EXPECT_EQ(RouteTo(system_prompt, DrawForIndex(1, 2)), 2u);
  // With two holders the less loaded one of them wins.
  endpoints_[2].in_flight = 3;
  EXPECT_EQ(RouteTo(system_prompt), 2u);
  // The guard grows with load: min 20 allows up to 30.
  endpoints_ = {{.name = "a", .in_flight = 30}, {.name = "b", .in_flight = 20}};
  EXPECT_EQ(RouteTo(system_prompt), 0u);
}

TEST_F(PrefixCachePolicyTest, PrefersTheLongerMatch) {
  const std::vector<uint32_t> p = Prompt(6, 0);
  RouteRequest short_request{.token_ids = std::span(p).first(2 * PrefixCachePolicy::kBlockSize)};
  policy_.Observe(short_request, endpoints_[0]);
  RouteRequest long_request{.token_ids = std::span(p).first(5 * PrefixCachePolicy::kBlockSize)};
  policy_.Observe(long_request, endpoints_[2]);
  EXPECT_EQ(RouteTo(p), 2u);
  std::vector<double> scores(3);
  ASSERT_TRUE(policy_.Score({.token_ids = p}, endpoints_, scores));
  EXPECT_DOUBLE_EQ(scores[0], 2.0 / 6);
  EXPECT_DOUBLE_EQ(scores[1], 0);
  EXPECT_DOUBLE_EQ(scores[2], 1.0);  // RouteTo recorded all six blocks on c
}

TEST_F(PrefixCachePolicyTest, ShortPromptsAreLeastRequest) {
  const std::vector<uint32_t> tiny = {1, 2, 3};
  endpoints_[0].in_flight = 2;
  endpoints_[1].in_flight = 1;
  endpoints_[2].in_flight = 2;
  EXPECT_EQ(RouteTo(tiny), 1u);
  EXPECT_EQ(policy_.index().size(), 0u);
}

}  // namespace
}  // namespace brix::router
