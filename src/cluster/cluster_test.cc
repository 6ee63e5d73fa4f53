#include "cluster/cluster.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "tokenizer/tokenizer.h"
#include "workload/synthetic.h"
#include "workload/trace.h"

namespace brix::cluster {
namespace {

using ::testing::HasSubstr;

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto tok = tokenizer::Tokenizer::LoadFiles(std::string(BRIX_TOKENIZER_CACHE) +
                                               "/llama3/tokenizer.json");
    ASSERT_TRUE(tok) << tok.error().message;
    text_ = new workload::PromptText(workload::PromptText::Create(**tok).value());
    profile_ =
        new engine::Profile(engine::LoadProfile(BRIX_PROFILES_DIR, "h100/llama-3.1-8b").value());
  }

  static ClusterConfig Config(size_t replicas, std::string policy) {
    ClusterConfig c;
    for (size_t i = 0; i < replicas; ++i) c.replicas.push_back({"", *profile_, {}});
    c.policy = std::move(policy);
    return c;
  }

  static workload::Workload Synthetic(double rate, double seconds, int turns = 1) {
    workload::SyntheticSpec spec;
    spec.rate = rate;
    spec.duration_s = seconds;
    spec.input = *workload::ParseDistribution("uniform:200:2000");
    spec.output = *workload::ParseDistribution("uniform:20:200");
    spec.turns = turns;
    spec.think_s = 0.5;
    spec.prefix_groups = turns > 1 ? 0 : 4;
    spec.prefix_tokens = 1024;
    return *workload::GenerateSynthetic(spec);
  }

  static workload::PromptText* text_;
  static engine::Profile* profile_;
};

workload::PromptText* ClusterTest::text_ = nullptr;
engine::Profile* ClusterTest::profile_ = nullptr;

TEST_F(ClusterTest, EveryRequestIsServedAndAccountedFor) {
  const workload::Workload w = Synthetic(20, 30);
  Result<ClusterResult> r = Simulate(w, *text_, Config(4, "least-request"));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->records.size(), w.turn_count());
  size_t routed = 0;
  for (const ReplicaReport& rep : r->replicas) routed += rep.requests;
  EXPECT_EQ(routed, w.turn_count());
  for (const report::RequestRecord& rec : r->records) {
    ASSERT_EQ(rec.outcome, report::Outcome::kOk) << rec.error;
    EXPECT_GT(rec.ttft_s(), 0);
    EXPECT_GE(rec.end_s, rec.first_token_s);
    EXPECT_GE(rec.output_tokens, 20);
    EXPECT_THAT(rec.replica, ::testing::StartsWith("replica-"));
  }
  const report::Summary s = report::Summarize(r->records, r->itl, {});
  EXPECT_EQ(s.ok, w.turn_count());
  EXPECT_GT(s.ttft_s.p50, 0.005);  // a 1k-token prefill on an H100 takes milliseconds
  EXPECT_LT(s.ttft_s.p50, 1.0);    // 20 req/s is well within four replicas
  EXPECT_GT(r->itl.count(), 0u);
  // Four shared prefixes: the replicas' prefix caches serve part of every prompt.
  int64_t hits = 0;
  for (const ReplicaReport& rep : r->replicas) hits += rep.prefix_cache_hits;
  EXPECT_GT(hits, 0);
  // Each record carries its own hit, as usage.prompt_tokens_details would; they add up to the
  // replicas' counters.
  int64_t record_hits = 0;
  for (const report::RequestRecord& rec : r->records) {
    EXPECT_GE(rec.cached_tokens, 0);
    EXPECT_LE(rec.cached_tokens, rec.input_tokens);
    record_hits += rec.cached_tokens;
  }
  EXPECT_EQ(record_hits, hits);
}

TEST_F(ClusterTest, DeterministicForASeed) {
  const workload::Workload w = Synthetic(30, 10);
  Result<ClusterResult> a = Simulate(w, *text_, Config(3, "random"));
  Result<ClusterResult> b = Simulate(w, *text_, Config(3, "random"));
  ASSERT_TRUE(a && b);
  for (size_t i = 0; i < a->records.size(); ++i) {
    EXPECT_EQ(a->records[i].replica, b->records[i].replica);
    EXPECT_EQ(a->records[i].first_token_s, b->records[i].first_token_s);
  }
  ClusterConfig other = Config(3, "random");
  other.seed = 2;
  Result<ClusterResult> c = Simulate(w, *text_, other);
  ASSERT_TRUE(c);
  size_t same = 0;
  for (size_t i = 0; i < a->records.size(); ++i)
    same += a->records[i].replica == c->records[i].replica;
  EXPECT_LT(same, a->records.size());
}

TEST_F(ClusterTest, RoundRobinSpreadsEvenly) {
  const workload::Workload w = Synthetic(10, 10);
  Result<ClusterResult> r = Simulate(w, *text_, Config(4, "round-robin"));
  ASSERT_TRUE(r);
  for (const ReplicaReport& rep : r->replicas) {
    EXPECT_NEAR(static_cast<double>(rep.requests), w.turn_count() / 4.0, 1.0) << rep.name;
  }
}

TEST_F(ClusterTest, LaterTurnsCarryTheConversationAndHitTheCache) {
  const workload::Workload w = Synthetic(2, 10, /*turns=*/3);
  Result<ClusterResult> r = Simulate(w, *text_, Config(1, "least-request"));
  ASSERT_TRUE(r) << r.error().message;
  for (size_t i = 0; i + 2 < r->records.size(); i += 3) {
    const auto& t0 = r->records[i];
    const auto& t1 = r->records[i + 1];
    ASSERT_EQ(t1.outcome, report::Outcome::kOk);
    // The second turn: the first prompt, its answer, then the new message.
    EXPECT_EQ(t1.input_tokens,
              t0.input_tokens + t0.output_tokens + w.sessions[i / 3].turns[1].prompt_tokens());
    EXPECT_NEAR(t1.sent_s, t0.end_s + 0.5, 1e-6);  // think time after the answer
    // As in vLLM, the answer's blocks are cached too: every whole block of the first turn's
    // prompt and answer but the answer's last token (sampled, never fed back) is a hit.
    EXPECT_EQ(t1.cached_tokens, (t0.input_tokens + t0.output_tokens - 1) / 16 * 16);
  }
  EXPECT_GT(r->replicas[0].prefix_cache_hits, 0);
}

// Conversations of 6 turns: a prefix-aware policy keeps each on the replica that holds it, so the
// engines find most of every later prompt cached; round-robin scatters them. Every policy that
// needs token ids runs, including the oracle (true caches) and a weighted combination.
TEST_F(ClusterTest, PrefixAwarePoliciesKeepConversationsWhereTheirCacheIs) {
  const workload::Workload w = Synthetic(4, 20, /*turns=*/6);
  auto hit_rate = [&](const std::string& policy) {
    Result<ClusterResult> r = Simulate(w, *text_, Config(4, policy));
    EXPECT_TRUE(r) << policy << ": " << r.error().message;
    if (!r) return 0.0;
    int64_t hits = 0;
    int64_t queries = 0;
    for (const ReplicaReport& rep : r->replicas) {
      hits += rep.prefix_cache_hits;
      queries += rep.prefix_cache_queries;
    }
    for (const report::RequestRecord& rec : r->records) {
      EXPECT_EQ(rec.outcome, report::Outcome::kOk) << policy;
    }
    return static_cast<double>(hits) / static_cast<double>(queries);
  };
  const double scattered = hit_rate("round-robin");
  for (const char* policy :
       {"brix", "prefix-cache", "least-latency", "oracle", "llm-d", "aibrix-prefix-cache",
        "sglang-cache-aware", "session-affinity", "prefix-cache:2,least-request"}) {
    EXPECT_GT(hit_rate(policy), scattered + 0.2) << policy << " vs round-robin " << scattered;
  }
}

TEST_F(ClusterTest, TwoMinutesOfMooncakeOnFourReplicas) {
  Result<workload::Workload> w = workload::LoadTrace(BRIX_TRACE);
  ASSERT_TRUE(w);
  Result<ClusterResult> r = Simulate(*w, *text_, Config(4, "least-request"));
  ASSERT_TRUE(r) << r.error().message;
  const report::Summary s = report::Summarize(r->records, r->itl, {});
  EXPECT_EQ(s.ok, 339u);
  // Same order of magnitude as the real processes' replay (docs/benchmarks.md: mean ~1 s).
  EXPECT_GT(s.ttft_s.mean, 0.05);
  EXPECT_LT(s.ttft_s.mean, 10);
  EXPECT_GT(r->simulated_s, 100);
}

// Two tenants share two replicas: "calm" sends 4 chat requests a second, "flood" thirty times
// more, beyond what the replicas can serve. With the gateway's fair-share admission (32 slots
// per replica, the reserve rule, virtual token counters), calm's requests start at once and its
// p99 time to first token stays within 1.5x of its value with the replicas to itself; served in
// arrival order, or with no admission at all, calm waits behind the flood's backlog. The flood
// still gets the rest: the run takes no longer than in arrival order.
TEST_F(ClusterTest, AFloodingTenantCannotStarveAnother) {
  auto tenant_workload = [](std::string tenant, double rate, uint64_t seed, uint64_t first_id) {
    workload::SyntheticSpec spec;
    spec.rate = rate;
    spec.duration_s = 60;
    spec.input = *workload::ParseDistribution("uniform:100:600");
    spec.output = *workload::ParseDistribution("uniform:100:400");
    spec.seed = seed;
    workload::Workload w = *workload::GenerateSynthetic(spec);
    for (workload::Session& s : w.sessions) {
      s.tenant = tenant;
      s.id += first_id;
    }
    return w;
  };
  const workload::Workload calm = tenant_workload("calm", 4, 1, 0);
  workload::Workload both = calm;
  for (workload::Session& s : tenant_workload("flood", 120, 2, 1'000'000).sessions) {
    both.sessions.push_back(std::move(s));
  }
  std::stable_sort(both.sessions.begin(), both.sessions.end(),
                   [](const auto& a, const auto& b) { return a.start_s < b.start_s; });

  struct Run {
    double calm_p99 = 0;
    double simulated_s = 0;
  };
  auto run = [&](const workload::Workload& w, std::string queueing, int64_t slots) {
    ClusterConfig c = Config(2, "least-latency");
    c.max_in_flight_per_replica = slots;
    c.queueing = std::move(queueing);
    Result<ClusterResult> r = Simulate(w, *text_, c);
    EXPECT_TRUE(r) << r.error().message;
    if (!r) return Run{};
    std::vector<report::RequestRecord> mine;
    for (size_t i = 0; i < w.sessions.size(); ++i) {
      const report::RequestRecord& rec = r->records[i];  // one turn per session
      EXPECT_EQ(rec.outcome, report::Outcome::kOk) << rec.error;
      if (w.sessions[i].tenant == "calm") mine.push_back(rec);
    }
    return Run{report::Summarize(mine, {}, {}).ttft_s.p99, r->simulated_s};
  };
  const Run alone = run(calm, "fair", 0);
  const Run fair = run(both, "fair", 32);
  const Run fifo = run(both, "fifo", 32);
  const Run ungated = run(both, "fair", 0);
  EXPECT_LE(fair.calm_p99, 1.5 * alone.calm_p99);
  EXPECT_GT(fifo.calm_p99, 10 * alone.calm_p99);
  EXPECT_GT(ungated.calm_p99, 10 * alone.calm_p99);
  // The reserve (4 of 32 slots) is the price: the flood finishes within 10% of arrival order.
  EXPECT_LE(fair.simulated_s, 1.1 * fifo.simulated_s);
  std::printf(
      "calm p99 TTFT: alone %.3f s, with the flood: fair %.3f s, fifo %.3f s, no "
      "admission %.3f s; makespan fair %.1f s, fifo %.1f s\n",
      alone.calm_p99, fair.calm_p99, fifo.calm_p99, ungated.calm_p99, fair.simulated_s,
      fifo.simulated_s);
}

TEST_F(ClusterTest, BadConfigIsAnError) {
  const workload::Workload w = Synthetic(1, 1);
  ClusterConfig queueing = Config(1, "random");
  queueing.max_in_flight_per_replica = 4;
  queueing.queueing = "lifo";
  EXPECT_THAT(Simulate(w, *text_, queueing).error().message, HasSubstr("lifo"));
  queueing.queueing = "fair";
  queueing.max_in_flight_per_replica = -1;
  EXPECT_THAT(Simulate(w, *text_, queueing).error().message, HasSubstr("max_in_flight"));
  EXPECT_THAT(Simulate(w, *text_, Config(0, "random")).error().message, HasSubstr("at least one"));
  EXPECT_THAT(Simulate(w, *text_, Config(2, "fastest")).error().message, HasSubstr("fastest"));
}

}  // namespace
}  // namespace brix::cluster
