#include "gateway/endpoints.h"

#include <gtest/gtest.h>

namespace brix::gateway {
namespace {

discovery::Endpoint Ep(std::string name, uint16_t port, std::vector<std::string> models = {}) {
  discovery::Endpoint e;
  e.name = std::move(name);
  e.host = "127.0.0.1";
  e.port = port;
  e.models = std::move(models);
  return e;
}

std::shared_ptr<const discovery::Topology> Topo(std::vector<discovery::Endpoint> endpoints,
                                                std::vector<discovery::ModelSpec> models = {}) {
  auto t = std::make_shared<discovery::Topology>();
  t->endpoints = std::move(endpoints);
  t->models = std::move(models);
  return t;
}

class SnapshotTest : public ::testing::Test {
 protected:
  GatewayOptions options;
  PolicySet policies{false};
  router::Policy* fallback = policies.Find("least-request");
};

TEST_F(SnapshotTest, KeepsStateOfUnchangedEndpointsAcrossReloads) {
  auto first = BuildSnapshot(Topo({Ep("a", 1, {"m"}), Ep("b", 2, {"m"})}), nullptr, options,
                             policies, fallback, nullptr);
  first->endpoints[0]->in_flight.store(7);
  auto second = BuildSnapshot(Topo({Ep("a", 1, {"m"}), Ep("b", 3, {"m"}), Ep("c", 4)}), first.get(),
                              options, policies, fallback, nullptr);
  ASSERT_EQ(second->endpoints.size(), 3u);
  EXPECT_EQ(second->endpoints[0], first->endpoints[0]) << "a unchanged: same state";
  EXPECT_EQ(second->endpoints[0]->in_flight.load(), 7);
  EXPECT_NE(second->endpoints[1], first->endpoints[1]) << "b moved port: new state";
  EXPECT_TRUE(first->endpoints[1]->removed.load()) << "the old b's scrape loop must end";
  EXPECT_FALSE(first->endpoints[0]->removed.load());
}

TEST_F(SnapshotTest, ChangingDeclaredModelsKeepsTheEndpointsState) {
  auto first =
      BuildSnapshot(Topo({Ep("a", 1, {"m1"})}), nullptr, options, policies, fallback, nullptr);
  first->endpoints[0]->in_flight.store(4);
  auto second = BuildSnapshot(Topo({Ep("a", 1, {"m1", "m2"})}), first.get(), options, policies,
                              fallback, nullptr);
  ASSERT_EQ(second->endpoints[0], first->endpoints[0]) << "same name and address: same state";
  EXPECT_EQ(second->endpoints[0]->in_flight.load(), 4);
  EXPECT_FALSE(first->endpoints[0]->removed.load());
  EXPECT_EQ(second->endpoints[0]->served.load()->models, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_FALSE(second->endpoints[0]->learn_models.load());
  // Dropping the declaration hands the models back to the scraper.
  auto third =
      BuildSnapshot(Topo({Ep("a", 1)}), second.get(), options, policies, fallback, nullptr);
  ASSERT_EQ(third->endpoints[0], first->endpoints[0]);
  EXPECT_TRUE(third->endpoints[0]->learn_models.load());
}

TEST_F(SnapshotTest, DeclaredModelsAreServedFromTheStart) {
  auto snap = BuildSnapshot(Topo({Ep("a", 1, {"m1", "m2"}), Ep("b", 2)}), nullptr, options,
                            policies, fallback, nullptr);
  auto served = snap->endpoints[0]->served.load();
  ASSERT_NE(served, nullptr);
  EXPECT_EQ(served->models, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_FALSE(snap->endpoints[0]->learn_models.load());
  EXPECT_EQ(snap->endpoints[1]->served.load(), nullptr) << "learned from /v1/models later";
  EXPECT_TRUE(snap->endpoints[1]->learn_models.load());
}

TEST_F(SnapshotTest, ModelSettingsResolvePolicyAndTimeoutWithDefaults) {
  discovery::ModelSpec rr{"m1", "round-robin", std::chrono::milliseconds(5000)};
  discovery::ModelSpec bad{"m2", "no-such-policy", std::nullopt};
  std::vector<std::string> warnings;
  options.request_timeout = std::chrono::milliseconds(9000);
  auto snap = BuildSnapshot(Topo({Ep("a", 1, {"m1"})}, {rr, bad}), nullptr, options, policies,
                            fallback, &warnings);
  EXPECT_EQ(snap->models.at("m1").policy->name(), "round-robin");
  EXPECT_EQ(snap->models.at("m1").request_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(snap->models.at("m2").policy, fallback);
  EXPECT_EQ(snap->models.at("m2").request_timeout, std::chrono::milliseconds(9000));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("no-such-policy"), std::string::npos);
}

TEST(PolicySet, TokenPoliciesOnlyWithATokenizerAndTheRefusalSaysWhy) {
  PolicySet without(false);
  EXPECT_NE(without.Find("least-request"), nullptr);
  EXPECT_EQ(without.Find("brix"), nullptr);
  EXPECT_EQ(without.Find("prefix-cache"), nullptr);
  EXPECT_NE(without.WhyUnknown("brix").find("--tokenizer"), std::string::npos);
  EXPECT_NE(without.WhyUnknown("fastest").find("unknown routing strategy 'fastest' (known: "),
            std::string::npos);
  PolicySet with(true);
  for (std::string_view name : router::PolicyNames()) {
    ASSERT_NE(with.Find(name), nullptr) << name;
    EXPECT_EQ(with.Find(name)->name(), name);
  }
  EXPECT_TRUE(with.Find("brix")->needs_tokens());
}

TEST_F(SnapshotTest, CandidateViewsCarryHealthInFlightAndMetricsAge) {
  auto snap = BuildSnapshot(Topo({Ep("a", 1, {"m"}), Ep("b", 2, {"m"})}), nullptr, options,
                            policies, fallback, nullptr);
  const auto now = std::chrono::steady_clock::now();
  snap->endpoints[0]->in_flight.store(3);
  snap->endpoints[0]->in_flight_tokens.store(3000);
  snap->endpoints[0]->awaiting_first_token.store(1);
  snap->endpoints[0]->awaiting_prompt_tokens.store(700);
  auto scraped = std::make_shared<ScrapedMetrics>();
  scraped->metrics.running = 5;
  scraped->at = now - std::chrono::milliseconds(250);
  snap->endpoints[0]->scraped.store(scraped);
  for (int i = 0; i < options.ejection.consecutive_failures; ++i) {
    snap->endpoints[1]->health.RecordFailure(now);
  }
  CandidateViews views;
  views.Fill(*snap, now);
  ASSERT_EQ(views.views().size(), 2u);
  const router::EndpointView& a = views.views()[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.address, "127.0.0.1:1");
  EXPECT_EQ(a.in_flight, 3);
  EXPECT_EQ(a.in_flight_tokens, 3000);
  EXPECT_EQ(a.awaiting_first_token, 1);
  EXPECT_EQ(a.awaiting_prompt_tokens, 700);
  ASSERT_NE(a.metrics, nullptr);
  EXPECT_EQ(a.metrics->running, 5);
  EXPECT_NEAR(a.metrics_age_s, 0.25, 1e-9);
  EXPECT_TRUE(a.healthy);
  EXPECT_FALSE(views.views()[1].healthy);
  EXPECT_EQ(views.views()[1].metrics, nullptr);
  EXPECT_EQ(&views.state(1), snap->endpoints[1].get());
}

}  // namespace
}  // namespace brix::gateway
