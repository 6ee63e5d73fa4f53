#include "engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace brix::engine {
namespace {

using std::chrono::milliseconds;

double Ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::vector<int32_t> Tokens(int32_t first, int32_t n) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    Result<Profile> p = LoadProfile(BRIX_ENGINE_PROFILES_DIR, "h100/llama-3.1-8b");
    EXPECT_TRUE(p.has_value());
    profile_ = *p;
  }

  Engine Make(EngineConfig config = {}) {
    Result<Engine> engine = Engine::Create(profile_, config);
    EXPECT_TRUE(engine.has_value()) << engine.error().ToString();
    return std::move(*engine);
  }

  void Add(Engine& engine, RequestId id, std::vector<int32_t> prompt, int32_t max_tokens,
           std::string lora = "") {
    Result<void> added = engine.Add({.id = id,
                                     .prompt = std::move(prompt),
                                     .max_output_tokens = max_tokens,
                                     .lora = std::move(lora),
                                     .arrival = now_});
    ASSERT_TRUE(added.has_value()) << added.error().ToString();
  }

  // Steps until idle; returns finished requests by id.
  std::map<RequestId, FinishedRequest> Drain(Engine& engine) {
    std::map<RequestId, FinishedRequest> done;
    for (int guard = 0; engine.HasWork() && guard < 1000000; ++guard) {
      const StepResult& step = engine.Step(now_);
      now_ = step.end;
      for (const FinishedRequest& f : step.finished) done[f.id] = f;
      engine.CheckInvariants();
    }
    return done;
  }

  Profile profile_;
  TimePoint now_{std::chrono::hours(1)};
};

TEST_F(EngineTest, PrefixHitsRaiseHitCountersAndCutTtft) {
  Engine engine = Make();
  std::vector<int32_t> system = Tokens(0, 2048);
  Add(engine, 1, Concat(system, Tokens(100000, 64)), 4);
  FinishedRequest cold = Drain(engine)[1];
  Stats s = engine.GetStats();
  EXPECT_EQ(s.prefix_cache_queries, 2048 + 64);
  EXPECT_EQ(s.prefix_cache_hits, 0);

  // The probe sees the cached system prompt (whole blocks, never the last token) and changes
  // nothing.
  EXPECT_EQ(engine.CachedPrefixTokens(Concat(system, Tokens(200000, 64))), 2048);
  EXPECT_EQ(engine.CachedPrefixTokens(Tokens(0, 100)), 96);
  EXPECT_EQ(engine.CachedPrefixTokens(Tokens(0, 16)), 0);
  EXPECT_EQ(engine.CachedPrefixTokens(Tokens(5, 100)), 0);
  EXPECT_EQ(engine.GetStats().prefix_cache_queries, s.prefix_cache_queries);
  Add(engine, 2, Concat(system, Tokens(200000, 64)), 4);
  FinishedRequest warm = Drain(engine)[2];
  s = engine.GetStats();
  EXPECT_EQ(warm.cached_prompt_tokens, 2048);
  EXPECT_EQ(s.prefix_cache_queries, 2 * (2048 + 64));
  EXPECT_EQ(s.prefix_cache_hits, 2048);
  EXPECT_LT(Ms(warm.ttft()), 0.5 * Ms(cold.ttft()));
  EXPECT_EQ(s.prompt_tokens, 2 * (2048 + 64));  // whole prompts, cached tokens included
  EXPECT_EQ(s.generation_tokens, 8);
}

TEST_F(EngineTest, PrefixCachingCanBeDisabled) {
  Engine engine = Make({.enable_prefix_caching = false});
  Add(engine, 1, Tokens(0, 512), 1);
  Drain(engine);
  Add(engine, 2, Tokens(0, 512), 1);
  EXPECT_EQ(Drain(engine)[2].cached_prompt_tokens, 0);
  EXPECT_EQ(engine.GetStats().prefix_cache_queries, 0);
  EXPECT_EQ(engine.GetStats().num_cached_blocks, 0);
}

TEST_F(EngineTest, ConcurrentRequestsSharingAChatPrefixShareBlocks) {
  Engine engine = Make({.max_model_len = 8192, .num_gpu_blocks_override = 1000});
  std::vector<int32_t> chat = Tokens(0, 1600);  // 100 blocks
  Add(engine, 1, Concat(chat, Tokens(50000, 10)), 100);
  engine.Step(now_);  // request 1's prompt is computed and its blocks registered
  const int64_t free_after_first = engine.GetStats().num_free_blocks;
  Add(engine, 2, Concat(chat, Tokens(60000, 10)), 100);
  const StepResult& step = engine.Step(engine.busy_until());
  now_ = step.end;
  // Request 2 only needed one new block for its own 10 tokens.
  EXPECT_EQ(free_after_first - engine.GetStats().num_free_blocks, 1);
  EXPECT_EQ(step.num_prefill_tokens, 10);
  engine.CheckInvariants();
  auto done = Drain(engine);
  EXPECT_EQ(done[2].cached_prompt_tokens, 1600);
  // A third request that repeats request 1's prompt and answer hits beyond the chat prefix.
  EXPECT_EQ(engine.GetStats().kv_cache_usage, 0.0);
}

TEST_F(EngineTest, AFollowUpTurnHitsTheCachedAnswerWhenOutputTokensAreKnown) {
  Engine engine = Make();
  std::vector<int32_t> prompt = Tokens(0, 100);
  std::vector<int32_t> answer = Tokens(5000, 60);
  ASSERT_TRUE(engine.Add({.id = 1,
                          .prompt = prompt,
                          .max_output_tokens = 60,
                          .output_token_ids = answer,
                          .arrival = now_}));
  Drain(engine);
  Add(engine, 2, Concat(Concat(prompt, answer), Tokens(9000, 20)), 1);
  // 160 tokens of history: the last block (144..160) holds the final answer token, whose KV was
  // never computed, so 144 hit.
  EXPECT_EQ(Drain(engine)[2].cached_prompt_tokens, 144);
}

TEST_F(EngineTest, EvictsLeastRecentlyFreedBlocksAndARequestsTailFirst) {
  // 10 usable blocks of 16 tokens.
  Engine engine = Make({.max_model_len = 160, .num_gpu_blocks_override = 11});
  std::vector<int32_t> a = Tokens(0, 64), b = Tokens(1000, 64), c = Tokens(2000, 64);
  Add(engine, 1, a, 1);
  Drain(engine);
  Add(engine, 2, b, 1);
  Drain(engine);
  // Free queue now: 2 never-used blocks, then A's blocks tail first (A4 A3 A2 A1), then B's
  // (B4 B3 B2 B1). C takes the 2 unused blocks and A's two tail blocks.
  Add(engine, 3, c, 1);
  Drain(engine);
  // B again: hits B1-B3 (capped at prompt - 1, block aligned) and takes one block for its last
  // 16 tokens from the head of the queue: A2.
  Add(engine, 5, b, 1);
  EXPECT_EQ(Drain(engine)[5].cached_prompt_tokens, 48);
  // A again: only A1 survived.
  Add(engine, 4, a, 1);
  EXPECT_EQ(Drain(engine)[4].cached_prompt_tokens, 16);
}

TEST_F(EngineTest, FullKvCachePreemptsTheLatestRequestWhichStillCompletes) {
  // 40 usable blocks = 640 tokens; four requests that each grow to 300 tokens cannot all fit.
  Engine engine = Make({.max_model_len = 512, .num_gpu_blocks_override = 41});
  for (RequestId id = 1; id <= 4; ++id) Add(engine, id, Tokens(id * 10000, 100), 200);
  auto done = Drain(engine);
  Stats s = engine.GetStats();
  EXPECT_GT(s.num_preemptions, 0);
  ASSERT_EQ(done.size(), 4u);
  int preempted = 0;
  for (auto& [id, f] : done) {
    EXPECT_EQ(f.reason, FinishReason::kLength);
    EXPECT_EQ(f.output_tokens, 200);
    preempted += f.num_preemptions;
  }
  EXPECT_EQ(preempted, s.num_preemptions);
  EXPECT_EQ(done[1].num_preemptions, 0);  // the oldest is never the victim
  EXPECT_GT(s.preempted_prefix_cache_queries, 0);
  EXPECT_EQ(s.generation_tokens, 800);
}

TEST_F(EngineTest, MoreAdaptersThanMaxLorasQueueAndFirstUsePaysTheLoadTime) {
  Engine engine = Make({.enable_lora = true,
                        .max_loras = 1,
                        .lora_load_time = milliseconds(30),
                        .lora_step_penalty = 0.0});
  Add(engine, 1, Tokens(0, 256), 5, "sql");
  Add(engine, 2, Tokens(1000, 256), 5, "chat");
  Add(engine, 3, Tokens(2000, 256), 5, "sql");
  Stats s = engine.GetStats();
  EXPECT_EQ(s.max_loras, 1);
  EXPECT_EQ(s.waiting_loras, (std::vector<std::string>{"chat", "sql"}));

  const StepResult& first = engine.Step(now_);
  now_ = first.end;
  EXPECT_EQ(first.num_lora_loads, 1);
  EXPECT_EQ(first.num_prefill_tokens, 512);  // both "sql" requests; "chat" skipped
  s = engine.GetStats();
  EXPECT_EQ(s.running_loras, (std::vector<std::string>{"sql"}));
  EXPECT_EQ(s.waiting_loras, (std::vector<std::string>{"chat"}));
  const Duration second = engine.Step(now_).duration();
  now_ += second;
  EXPECT_EQ(engine.GetStats().num_waiting, 1);

  auto done = Drain(engine);
  // "chat" starts only after the "sql" requests leave, and pays the load.
  EXPECT_GE(done[2].first_scheduled, done[1].finished);
  const StepTimeModel& model = engine.step_time_model();
  std::array<PrefillChunk, 1> chunk{{{256, 0}}};
  EXPECT_NEAR(Ms(done[2].prefill_time()), model.StepMillis({.prefills = chunk}) + 30, 0.01);
  // Penalty: a LoRA step costs lora_step_penalty more.
  Engine penalised =
      Make({.enable_lora = true, .lora_load_time = Duration::zero(), .lora_step_penalty = 0.5});
  Add(penalised, 9, Tokens(0, 256), 1, "sql");
  EXPECT_NEAR(Ms(penalised.Step(now_).duration()), 1.5 * model.StepMillis({.prefills = chunk}),
              0.01);
}

TEST_F(EngineTest, ChunkedPrefillSplitsALongPromptUnderTheTokenBudget) {
  Engine engine = Make({.max_num_batched_tokens = 512});
  Add(engine, 1, Tokens(0, 1200), 2);
  std::vector<int32_t> per_step;
  std::vector<size_t> tokens_out;
  while (engine.HasWork()) {
    const StepResult& step = engine.Step(now_);
    now_ = step.end;
    per_step.push_back(step.num_scheduled_tokens);
    tokens_out.push_back(step.tokens.size());
  }
  EXPECT_EQ(per_step, (std::vector<int32_t>{512, 512, 176, 1}));
  EXPECT_EQ(tokens_out, (std::vector<size_t>{0, 0, 1, 1}));
  Stats s = engine.GetStats();
  EXPECT_EQ(s.num_steps, 4);
  EXPECT_EQ(s.iteration_tokens_sum, 1201);
  EXPECT_EQ(s.iteration_tokens_buckets[0], 1);  // the decode step, bucket le=1
  EXPECT_EQ(s.iteration_tokens_buckets[7], 2);  // 512 <= 512
  EXPECT_EQ(s.iteration_tokens_buckets[6], 1);  // 176 <= 256
}

TEST_F(EngineTest, DecodesAreBatchedAndAJoiningPrefillSlowsTheirTokens) {
  Engine engine = Make();
  Add(engine, 1, Tokens(0, 100), 50);
  const StepResult& s1 = engine.Step(now_);
  now_ = s1.end;
  const Duration decode_alone = engine.Step(now_).duration();
  now_ += decode_alone;
  Add(engine, 2, Tokens(10000, 4000), 5);
  const StepResult& mixed = engine.Step(now_);
  now_ = mixed.end;
  EXPECT_EQ(mixed.num_decodes, 1);
  EXPECT_EQ(mixed.num_prefill_tokens, 4000);
  EXPECT_EQ(mixed.tokens.size(), 2u);  // request 1's next token and request 2's first
  EXPECT_GT(mixed.duration(), 10 * decode_alone);
  auto done = Drain(engine);
  EXPECT_GE(done[1].max_inter_token_latency, mixed.duration());
}

TEST_F(EngineTest, MaxNumSeqsCapsRunningRequests) {
  Engine engine = Make({.max_num_seqs = 2});
  for (RequestId id = 1; id <= 5; ++id) Add(engine, id, Tokens(id * 1000, 32), 3);
  now_ = engine.Step(now_).end;
  Stats s = engine.GetStats();
  EXPECT_EQ(s.num_running, 2);
  EXPECT_EQ(s.num_waiting, 3);
  auto done = Drain(engine);
  EXPECT_EQ(done.size(), 5u);
  EXPECT_GT(done[5].queue_time(), Duration::zero());
}

TEST_F(EngineTest, AddRejectsBadRequestsWithClearErrors) {
  Engine engine = Make({.max_model_len = 1024});
  Result<void> r = engine.Add({.id = 1, .prompt = Tokens(0, 1024), .arrival = now_});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_NE(r.error().message.find("maximum context length is 1024 tokens"), std::string::npos);
  EXPECT_EQ(engine.Add({.id = 1, .prompt = {}, .arrival = now_}).error().code,
            Errc::kInvalidArgument);
  EXPECT_EQ(engine.Add({.id = 1, .prompt = {1}, .max_output_tokens = 0}).error().code,
            Errc::kInvalidArgument);
  EXPECT_EQ(engine.Add({.id = 1, .prompt = {1}, .lora = "x"}).error().code,
            Errc::kInvalidArgument);  // LoRA disabled
  EXPECT_TRUE(engine.Add({.id = 1, .prompt = Tokens(0, 1023), .arrival = now_}));
  EXPECT_EQ(engine.Add({.id = 1, .prompt = {1}}).error().code, Errc::kAlreadyExists);
  // The 1023-token prompt can produce one token before it reaches max_model_len.
  auto done = Drain(engine);
  EXPECT_EQ(done[1].output_tokens, 1);
  EXPECT_EQ(done[1].reason, FinishReason::kLength);
}

TEST_F(EngineTest, CreateReportsEveryConfigProblem) {
  Result<Engine> engine = Engine::Create(profile_, {.max_num_batched_tokens = 0,
                                                    .block_size = 10,
                                                    .gpu_memory_utilization = 1.5,
                                                    .slowdown = 0});
  ASSERT_FALSE(engine.has_value());
  EXPECT_EQ(engine.error().code, Errc::kInvalidArgument);
  for (const char* field :
       {"max_num_batched_tokens", "block_size", "gpu_memory_utilization", "slowdown"}) {
    EXPECT_NE(engine.error().message.find(field), std::string::npos) << field;
  }
}

TEST_F(EngineTest, FinishesWithStopAtTheNaturalLengthAndLengthAtMaxTokens) {
  Engine engine = Make();
  ASSERT_TRUE(engine.Add({.id = 1,
                          .prompt = Tokens(0, 10),
                          .max_output_tokens = 20,
                          .output_tokens = 7,
                          .arrival = now_}));
  ASSERT_TRUE(engine.Add({.id = 2,
                          .prompt = Tokens(100, 10),
                          .max_output_tokens = 5,
                          .output_tokens = 7,
                          .arrival = now_}));
  auto done = Drain(engine);
  EXPECT_EQ(done[1].reason, FinishReason::kStop);
  EXPECT_EQ(done[1].output_tokens, 7);
  EXPECT_EQ(done[2].reason, FinishReason::kLength);
  EXPECT_EQ(done[2].output_tokens, 5);
  EXPECT_EQ(FinishReasonName(done[1].reason), "stop");
  Stats s = engine.GetStats();
  EXPECT_EQ(s.requests_finished[static_cast<int>(FinishReason::kStop)], 1);
  EXPECT_EQ(s.requests_finished[static_cast<int>(FinishReason::kLength)], 1);
  // Phases add up.
  EXPECT_EQ(done[1].queue_time() + done[1].prefill_time() + done[1].decode_time(),
            done[1].e2e_latency());
}

TEST_F(EngineTest, AbortFreesBlocksAndForgetsTheRequest) {
  Engine engine = Make();
  Add(engine, 1, Tokens(0, 1000), 100);
  Add(engine, 2, Tokens(5000, 1000), 100);
  now_ = engine.Step(now_).end;
  const int64_t free_before = engine.GetStats().num_free_blocks;
  Result<FinishedRequest> aborted = engine.Abort(1, now_);
  ASSERT_TRUE(aborted.has_value());
  EXPECT_EQ(aborted->reason, FinishReason::kAbort);
  EXPECT_EQ(aborted->output_tokens, 1);
  EXPECT_EQ(engine.GetStats().num_free_blocks, free_before + 63);  // ceil(1000 / 16)
  EXPECT_EQ(engine.Abort(1, now_).error().code, Errc::kNotFound);
  EXPECT_EQ(engine.GetStats().num_running, 1);
  engine.CheckInvariants();
  // A waiting request can be aborted too.
  Add(engine, 3, Tokens(9000, 10), 5);
  EXPECT_TRUE(engine.Abort(3, now_).has_value());
  EXPECT_EQ(engine.GetStats().num_waiting, 0);
  EXPECT_EQ(engine.GetStats().requests_finished[static_cast<int>(FinishReason::kAbort)], 2);
  auto done = Drain(engine);
  EXPECT_EQ(done.size(), 1u);
  EXPECT_EQ(engine.GetStats().kv_cache_usage, 0.0);
}

TEST_F(EngineTest, SlowdownMultipliesStepDurationsAtRunTime) {
  Engine engine = Make();
  Add(engine, 1, Tokens(0, 100), 10);
  now_ = engine.Step(now_).end;
  const Duration normal = engine.Step(now_).duration();
  now_ += normal;
  engine.SetSlowdown(3.0);
  const Duration slow = engine.Step(now_).duration();
  EXPECT_NEAR(Ms(slow), 3 * Ms(normal), 0.01);
}

TEST_F(EngineTest, KvCapacityCanShrinkAtRunTimePreemptingWhatNoLongerFits) {
  Engine engine = Make({.max_model_len = 4096, .num_gpu_blocks_override = 1000});
  for (RequestId id = 1; id <= 3; ++id) Add(engine, id, Tokens(id * 10000, 1600), 50);
  now_ = engine.Step(now_).end;
  EXPECT_EQ(engine.GetStats().num_running, 3);
  engine.SetKvCapacity(250);  // 249 usable: two requests of 101 blocks fit, not three
  Stats s = engine.GetStats();
  EXPECT_EQ(s.num_gpu_blocks, 250);
  EXPECT_EQ(s.num_running, 2);
  EXPECT_EQ(s.num_preemptions, 1);
  engine.CheckInvariants();
  auto done = Drain(engine);
  EXPECT_EQ(done.size(), 3u);
  for (auto& [id, f] : done) EXPECT_EQ(f.reason, FinishReason::kLength);
  // Shrunk below one request: it is aborted rather than blocking the queue forever.
  engine.SetKvCapacity(50);
  Add(engine, 7, Tokens(0, 1600), 5);
  done = Drain(engine);
  EXPECT_EQ(done[7].reason, FinishReason::kAbort);
  engine.SetKvCapacity(2000);
  EXPECT_EQ(engine.GetStats().num_gpu_blocks, 2000);
}

class RunUntilTest : public EngineTest, public ::testing::WithParamInterface<bool> {};

// Small cache (preemptions) without LoRA, and a large one with three adapters over two slots.
TEST_P(RunUntilTest, MatchesSteppingOneByOne) {
  const bool lora = GetParam();
  auto run = [&](bool batched) {
    Engine engine = Make({.max_model_len = 4096,
                          .num_gpu_blocks_override = lora ? 4000 : 400,
                          .enable_lora = lora,
                          .max_loras = 2});
    std::mt19937_64 rng(7);
    TimePoint t = now_;
    std::vector<FinishedRequest> done;
    std::map<RequestId, TimePoint> first_tokens;  // as reported while running
    auto note_first = [&](const RunResult& r) {
      for (const auto& [id, when] : r.first_tokens) {
        EXPECT_TRUE(first_tokens.emplace(id, when).second) << "twice: " << id;
      }
    };
    for (RequestId id = 1; id <= 200; ++id) {
      const TimePoint arrival = t + milliseconds(rng() % 200);
      if (batched) {
        const RunResult& r = engine.RunUntil(t, arrival);
        done.insert(done.end(), r.finished.begin(), r.finished.end());
        note_first(r);
        t = std::max(r.end, arrival);
      } else {
        while (engine.HasWork() && t < arrival) {
          const StepResult& s = engine.Step(t);
          done.insert(done.end(), s.finished.begin(), s.finished.end());
          for (RequestId f : s.first_tokens) {
            EXPECT_TRUE(first_tokens.emplace(f, s.end).second) << "twice: " << f;
          }
          t = s.end;
        }
        t = std::max(t, arrival);
      }
      const int32_t shared = static_cast<int32_t>(rng() % 3) * 1000;
      EXPECT_TRUE(
          engine.Add({.id = id,
                      .prompt = Concat(Tokens(shared, 200), Tokens(id * 10000, 1 + rng() % 900)),
                      .max_output_tokens = static_cast<int32_t>(1 + rng() % 300),
                      .output_tokens = static_cast<int32_t>(rng() % 400),
                      .arrival = arrival}));
    }
    const RunResult& r = engine.RunUntil(t, TimePoint::max());
    done.insert(done.end(), r.finished.begin(), r.finished.end());
    note_first(r);
    EXPECT_FALSE(engine.HasWork());
    // Every request that produced a token was reported once, at its first token's time.
    size_t with_tokens = 0;
    for (const FinishedRequest& f : done) {
      if (f.output_tokens == 0) continue;
      ++with_tokens;
      EXPECT_EQ(first_tokens[f.id], f.first_token) << f.id;
    }
    EXPECT_EQ(first_tokens.size(), with_tokens);
    return std::make_pair(done, engine.GetStats());
  };
  auto [a, sa] = run(false);
  auto [b, sb] = run(true);
  ASSERT_EQ(a.size(), 200u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].finished, b[i].finished);
    EXPECT_EQ(a[i].first_token, b[i].first_token);
    EXPECT_EQ(a[i].last_token, b[i].last_token);
    EXPECT_EQ(a[i].max_inter_token_latency, b[i].max_inter_token_latency);
    EXPECT_EQ(a[i].cached_prompt_tokens, b[i].cached_prompt_tokens);
    EXPECT_EQ(a[i].num_preemptions, b[i].num_preemptions);
    EXPECT_EQ(a[i].output_tokens, b[i].output_tokens);
    EXPECT_EQ(a[i].reason, b[i].reason);
  }
  EXPECT_EQ(sa.generation_tokens, sb.generation_tokens);
  EXPECT_EQ(sa.iteration_tokens_buckets, sb.iteration_tokens_buckets);
  EXPECT_EQ(sa.num_cached_blocks, sb.num_cached_blocks);
  EXPECT_EQ(sa.num_steps, sb.num_steps);
  EXPECT_EQ(sa.prefix_cache_hits, sb.prefix_cache_hits);
  EXPECT_GT(sa.prefix_cache_hits, 0);
  EXPECT_EQ(sa.num_preemptions > 0, !lora);
  EXPECT_EQ(sa.num_preemptions, sb.num_preemptions);
}

INSTANTIATE_TEST_SUITE_P(Engine, RunUntilTest, ::testing::Bool());

}  // namespace
}  // namespace brix::engine
