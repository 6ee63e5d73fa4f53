#include "router/session_affinity_policy.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "router/internal/select.h"

namespace brix::router {
namespace {

using internal::DrawForIndex;

struct Headers {
  std::map<std::string, std::string, std::less<>> values;
  std::function<std::optional<std::string_view>(std::string_view)> Lookup() const {
    return [this](std::string_view name) -> std::optional<std::string_view> {
      auto it = values.find(name);
      if (it == values.end()) return std::nullopt;
      return std::string_view(it->second);
    };
  }
};

const std::vector<EndpointView> kEndpoints = {
    {.name = "a", .address = "10.0.0.1:8000"},
    {.name = "b", .address = "10.0.0.2:8000"},
    {.name = "c", .address = "10.0.0.3:8000"},
};

size_t Pick(const Headers& h, uint64_t random = 0,
            const std::vector<EndpointView>& endpoints = kEndpoints) {
  SessionAffinityPolicy policy;
  return *policy.Pick({.header = h.Lookup(), .random = random}, endpoints);
}

TEST(SessionAffinityPolicyTest, SessionIdIsBase64OfTheAddress) {
  EXPECT_EQ(SessionAffinityPolicy::SessionIdFor("10.0.0.1:8000"), "MTAuMC4wLjE6ODAwMA==");
  EXPECT_EQ(SessionAffinityPolicy::SessionIdFor("a"), "YQ==");
  EXPECT_EQ(SessionAffinityPolicy::SessionIdFor("ab"), "YWI=");
  EXPECT_EQ(SessionAffinityPolicy::SessionIdFor(""), "");
}

TEST(SessionAffinityPolicyTest, RendezvousScoreIsFnv1a) {
  EXPECT_EQ(SessionAffinityPolicy::RendezvousScore("", ""), 0xaf63bd4c8601b7dfULL);
  EXPECT_EQ(SessionAffinityPolicy::RendezvousScore("k", "a"), 0x3c716619353657adULL);
}

TEST(SessionAffinityPolicyTest, SessionIdNamesTheEndpoint) {
  Headers h{{{"x-session-id", "MTAuMC4wLjM6ODAwMA=="}}};  // 10.0.0.3:8000
  EXPECT_EQ(Pick(h, DrawForIndex(0, 3)), 2u);
  EXPECT_EQ(Pick(h, DrawForIndex(1, 3)), 2u);
  // An id for an endpoint that is gone falls through to the key, then to random.
  Headers gone{{{"x-session-id", SessionAffinityPolicy::SessionIdFor("10.0.0.9:8000")}}};
  EXPECT_EQ(Pick(gone, DrawForIndex(1, 3)), 1u);
}

TEST(SessionAffinityPolicyTest, SessionKeyIsStickyAndOnlyMovesWhenItsEndpointGoes) {
  std::map<size_t, int> spread;
  for (int k = 0; k < 60; ++k) {
    Headers h{{{"x-aibrix-session-key", "session-" + std::to_string(k)}}};
    const size_t first = Pick(h, DrawForIndex(0, 3));
    EXPECT_EQ(Pick(h, DrawForIndex(2, 3)), first);  // the draw does not matter
    ++spread[first];
    // Without b, sessions on a and c stay; b's move.
    std::vector<EndpointView> without_b = {kEndpoints[0], kEndpoints[2]};
    const size_t after = Pick(h, 0, without_b);
    if (first != 1) {
      EXPECT_EQ(without_b[after].name, kEndpoints[first].name);
    }
  }
  EXPECT_EQ(spread.size(), 3u);  // 60 keys use all three
  // Too long a key is ignored.
  Headers long_key{{{"x-aibrix-session-key", std::string(257, 'k')}}};
  EXPECT_EQ(Pick(long_key, DrawForIndex(2, 3)), 2u);
}

TEST(SessionAffinityPolicyTest, ScoresTheAffineEndpoint) {
  SessionAffinityPolicy policy;
  Headers h{{{"x-session-id", "MTAuMC4wLjE6ODAwMA=="}}};
  std::vector<double> s(3);
  ASSERT_TRUE(policy.Score({.header = h.Lookup()}, kEndpoints, s));
  EXPECT_EQ(s, (std::vector<double>{1, 0, 0}));
  ASSERT_TRUE(policy.Score({}, kEndpoints, s));
  EXPECT_TRUE(std::isnan(s[0]) && std::isnan(s[1]) && std::isnan(s[2]));
}

}  // namespace
}  // namespace brix::router
