#include "router/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "router/internal/select.h"

namespace brix::router {
namespace {

using internal::DrawForIndex;
using ::testing::HasSubstr;

const std::vector<std::string> kLlama = {"llama"};
const std::vector<std::string> kQwen = {"qwen"};
const std::vector<std::string> kLlamaAndQwen = {"llama", "qwen"};
const std::vector<std::string> kSqlAdapter = {"sql-lora"};

EndpointView Endpoint(std::string_view name, std::span<const std::string> models,
                      int64_t in_flight = 0, bool healthy = true) {
  return {.name = name, .healthy = healthy, .in_flight = in_flight, .models = models};
}

// Records what it was given and picks a fixed candidate (or fails).
class RecordingPolicy final : public Policy {
 public:
  explicit RecordingPolicy(Result<size_t> answer) : answer_(std::move(answer)) {}
  std::string_view name() const override { return "recording"; }
  Result<size_t> Pick(const RouteRequest& /*request*/,
                      std::span<const EndpointView> candidates) override {
    seen.clear();
    for (const EndpointView& c : candidates) seen.emplace_back(c.name);
    return answer_;
  }

  std::vector<std::string> seen;

 private:
  Result<size_t> answer_;
};

// "3" for a pick, the error's ToString() otherwise: comparable and readable in failures.
std::string Show(const Result<size_t>& r) { return r ? std::to_string(*r) : r.error().ToString(); }

std::unique_ptr<Policy> MustMake(std::string_view name) {
  Result<std::unique_ptr<Policy>> policy = MakePolicy(name);
  EXPECT_TRUE(policy.has_value()) << name;
  return policy ? std::move(*policy) : nullptr;
}

TEST(ServesTest, MatchesBaseModelsAndLoadedAdaptersExactly) {
  EndpointView e = Endpoint("a", kLlamaAndQwen);
  e.adapters = kSqlAdapter;
  EXPECT_TRUE(Serves(e, "llama"));
  EXPECT_TRUE(Serves(e, "qwen"));
  EXPECT_TRUE(Serves(e, "sql-lora"));
  EXPECT_FALSE(Serves(e, "Llama"));
  EXPECT_FALSE(Serves(e, "llam"));
  EXPECT_FALSE(Serves(e, "sql"));
  EXPECT_FALSE(Serves(e, ""));
  EXPECT_FALSE(Serves(EndpointView{}, "llama"));
}

TEST(RouteTest, PassesOnlyHealthyEndpointsServingTheModelAndMapsThePickBack) {
  const std::vector<EndpointView> endpoints = {
      Endpoint("qwen-0", kQwen),
      Endpoint("llama-down", kLlama, 0, /*healthy=*/false),
      Endpoint("llama-1", kLlama),
      Endpoint("both-3", kLlamaAndQwen),
  };
  RecordingPolicy policy(size_t{1});
  Result<size_t> i = Route(policy, {.model = "llama"}, endpoints);
  ASSERT_TRUE(i.has_value()) << i.error().ToString();
  EXPECT_EQ(policy.seen, (std::vector<std::string>{"llama-1", "both-3"}));
  EXPECT_EQ(*i, 3u);  // candidate 1 is endpoint 3
}

TEST(RouteTest, HandsTheWholeSnapshotToThePolicyWhenAllAreEligible) {
  const std::vector<EndpointView> endpoints = {Endpoint("a", kLlama), Endpoint("b", kLlama)};
  RecordingPolicy policy(size_t{1});
  EXPECT_EQ(Show(Route(policy, {.model = "llama"}, endpoints)), "1");
  EXPECT_EQ(policy.seen, (std::vector<std::string>{"a", "b"}));
}

TEST(RouteTest, RoutesAnAdapterOnlyToEndpointsThatLoadedIt) {
  std::vector<EndpointView> endpoints = {Endpoint("plain", kLlama), Endpoint("lora", kLlama)};
  endpoints[1].adapters = kSqlAdapter;
  endpoints[1].in_flight = 10;  // busier, but the only one with the adapter
  std::unique_ptr<Policy> policy = MustMake("least-request");
  EXPECT_EQ(Show(Route(*policy, {.model = "sql-lora"}, endpoints)), "1");
  EXPECT_EQ(Show(Route(*policy, {.model = "llama"}, endpoints)), "0");
}

TEST(RouteTest, NotFoundWhenNoEndpointServesTheModel) {
  const std::vector<EndpointView> endpoints = {Endpoint("a", kQwen)};
  RecordingPolicy policy(size_t{0});
  Result<size_t> i = Route(policy, {.model = "llama"}, endpoints);
  ASSERT_TRUE(i.has_error());
  EXPECT_EQ(i.error().code, Errc::kNotFound);
  EXPECT_THAT(i.error().message, HasSubstr("\"llama\""));
  EXPECT_TRUE(policy.seen.empty());

  Result<size_t> none = Route(policy, {.model = "llama"}, {});
  ASSERT_TRUE(none.has_error());
  EXPECT_EQ(none.error().code, Errc::kNotFound);
}

TEST(RouteTest, UnavailableWhenEveryEndpointServingTheModelIsUnhealthy) {
  const std::vector<EndpointView> endpoints = {
      Endpoint("qwen", kQwen),  // healthy, but another model
      Endpoint("llama-0", kLlama, 0, /*healthy=*/false),
      Endpoint("llama-1", kLlama, 0, /*healthy=*/false),
  };
  RecordingPolicy policy(size_t{0});
  Result<size_t> i = Route(policy, {.model = "llama"}, endpoints);
  ASSERT_TRUE(i.has_error());
  EXPECT_EQ(i.error().code, Errc::kUnavailable);
  EXPECT_THAT(i.error().message, HasSubstr("none of the 2 endpoints serving model \"llama\""));
  EXPECT_TRUE(policy.seen.empty());
}

TEST(RouteTest, ReturnsThePolicysError) {
  const std::vector<EndpointView> endpoints = {Endpoint("a", kLlama), Endpoint("b", kQwen)};
  RecordingPolicy policy(ResourceExhausted("all full"));
  Result<size_t> i = Route(policy, {.model = "llama"}, endpoints);
  EXPECT_EQ(Show(i), "resource_exhausted: all full");
}

TEST(RouteTest, SkipsUnhealthyEndpointsWithEveryPolicy) {
  const std::vector<EndpointView> endpoints = {
      Endpoint("down", kLlama, 0, /*healthy=*/false),
      Endpoint("up", kLlama, 5),
      Endpoint("down-too", kLlama, 0, /*healthy=*/false),
  };
  for (std::string_view name : PolicyNames()) {
    std::unique_ptr<Policy> policy = MustMake(name);
    for (uint64_t random : {uint64_t{0}, uint64_t{1} << 63, ~uint64_t{0}}) {
      EXPECT_EQ(Show(Route(*policy, {.model = "llama", .random = random}, endpoints)), "1") << name;
    }
  }
}

TEST(RouteTest, LeastRequestThroughRouteIgnoresAnUnhealthyIdleEndpoint) {
  const std::vector<EndpointView> endpoints = {
      Endpoint("a", kLlama, 3),
      Endpoint("idle-but-down", kLlama, 0, /*healthy=*/false),
      Endpoint("c", kLlama, 1),
      Endpoint("d", kLlama, 1),
  };
  std::unique_ptr<Policy> policy = MustMake("least-request");
  // Candidates are a, c, d; c and d tie at 1.
  EXPECT_EQ(Show(Route(*policy, {.model = "llama", .random = DrawForIndex(0, 2)}, endpoints)), "2");
  EXPECT_EQ(Show(Route(*policy, {.model = "llama", .random = DrawForIndex(1, 2)}, endpoints)), "3");
}

TEST(RouteTest, HandlesMoreCandidatesThanItsInlineBuffer) {
  // 200 endpoints, every third one down: the candidate list spills to the heap.
  std::vector<std::string> names;
  for (int i = 0; i < 200; ++i) names.push_back("e" + std::to_string(i));
  std::vector<EndpointView> endpoints;
  for (int i = 0; i < 200; ++i) {
    endpoints.push_back(Endpoint(names[i], kLlama, 100 - (i % 97), /*healthy=*/i % 3 != 0));
  }
  std::unique_ptr<Policy> policy = MustMake("least-request");
  // in_flight 4 at i = 96 (down: 96 % 3 == 0) and i = 193; 193 is the only healthy minimum.
  EXPECT_EQ(Show(Route(*policy, {.model = "llama"}, endpoints)), "193");

  RecordingPolicy recording(size_t{132});
  Result<size_t> i = Route(recording, {.model = "llama"}, endpoints);
  ASSERT_EQ(recording.seen.size(), 133u);
  EXPECT_EQ(Show(i), "199");  // the last healthy one
}

TEST(MakePolicyTest, BuildsEveryListedPolicyUnderItsName) {
  EXPECT_EQ(PolicyNames(), (std::vector<std::string_view>{
                               "brix", "random", "round-robin", "least-request", "least-kv-cache",
                               "prefix-cache", "least-latency", "session-affinity", "throughput",
                               "aibrix-prefix-cache", "sglang-cache-aware", "llm-d", "oracle"}));
  const std::vector<std::string_view> need_tokens = {
      "brix",  "prefix-cache", "least-latency", "aibrix-prefix-cache", "sglang-cache-aware",
      "llm-d", "oracle"};
  for (std::string_view name : PolicyNames()) {
    std::unique_ptr<Policy> policy = MustMake(name);
    ASSERT_NE(policy, nullptr);
    EXPECT_EQ(policy->name(), name);
    EXPECT_EQ(policy->needs_tokens(),
              std::find(need_tokens.begin(), need_tokens.end(), name) != need_tokens.end())
        << name;
  }
}

TEST(MakePolicyTest, UnknownNameIsInvalidArgumentListingTheKnownOnes) {
  for (std::string_view name : {"least-requests", "", "RANDOM", "prefix_cache"}) {
    Result<std::unique_ptr<Policy>> policy = MakePolicy(name);
    ASSERT_TRUE(policy.has_error()) << name;
    EXPECT_EQ(policy.error().code, Errc::kInvalidArgument);
    EXPECT_THAT(policy.error().message,
                HasSubstr("known: brix, random, round-robin, least-request, least-kv-cache"));
    EXPECT_THAT(policy.error().message, HasSubstr("\"" + std::string(name) + "\""));
  }
}

TEST(MakePolicyTest, EachCallReturnsAnIndependentPolicy) {
  std::unique_ptr<Policy> a = MustMake("round-robin");
  std::unique_ptr<Policy> b = MustMake("round-robin");
  const std::vector<EndpointView> endpoints(3);
  EXPECT_EQ(Show(a->Pick({}, endpoints)), "0");
  EXPECT_EQ(Show(a->Pick({}, endpoints)), "1");
  EXPECT_EQ(Show(b->Pick({}, endpoints)), "0");
}

}  // namespace
}  // namespace brix::router
