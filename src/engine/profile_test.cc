#include "engine/profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace brix::engine {
namespace {

using std::chrono::milliseconds;

const char* kDataDir = BRIX_ENGINE_PROFILES_DIR;

Profile Load(const std::string& name) {
  Result<Profile> p = LoadProfile(kDataDir, name);
  EXPECT_TRUE(p.has_value()) << name << ": " << (p ? "" : p.error().ToString());
  return p ? *p : Profile{};
}

double Ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Distinct token ids [first, first + n).
std::vector<int32_t> Tokens(int32_t first, int32_t n) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Runs `engine` until request `id` finishes; returns its accounting.
FinishedRequest RunToEnd(Engine& engine, RequestId id, TimePoint& now,
                         std::vector<TimePoint>* token_times = nullptr) {
  for (int guard = 0; guard < 100000 && engine.HasWork(); ++guard) {
    const StepResult& step = engine.Step(now);
    now = step.end;
    for (const TokenOutput& t : step.tokens) {
      if (t.id == id && token_times != nullptr) token_times->push_back(step.end);
    }
    for (const FinishedRequest& f : step.finished) {
      if (f.id == id) return f;
    }
  }
  ADD_FAILURE() << "request " << id << " did not finish";
  return {};
}

TEST(ProfileTest, ListsAndLoadsEveryProfile) {
  std::vector<std::string> names = ListProfiles(kDataDir);
  EXPECT_EQ(names, (std::vector<std::string>{"h100/llama-3.1-8b", "h100/llama-3.2-1b",
                                             "h100/qwen2.5-14b", "h200/llama-3.1-8b",
                                             "h200/llama-3.2-1b", "h200/qwen2.5-14b"}));
  for (const std::string& name : names) {
    Profile p = Load(name);
    EXPECT_EQ(p.name, name);
    EXPECT_GT(p.gpu_memory_bytes, p.weight_bytes);
    EXPECT_GT(p.kv_bytes_per_token, 0);
    EXPECT_GE(p.max_model_len, 32768);
    EXPECT_EQ(p.prefill.size(), 11u);
    EXPECT_EQ(p.prefill_cached.size(), 12u);
    EXPECT_GE(p.decode.size(), 28u);
    EXPECT_EQ(p.linear.size(), 13u);
  }
  Profile p = Load("h100/llama-3.1-8b");
  EXPECT_EQ(p.device, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(p.kv_bytes_per_token, 131072);
  EXPECT_EQ(p.shape.layers, 32);
  EXPECT_EQ(p.shape.kv_heads, 8);
  EXPECT_EQ(p.max_model_len, 131072);
  EXPECT_EQ(Load("h200/qwen2.5-14b").max_model_len, 32768);
}

TEST(ProfileTest, RejectsUnknownAndMalformedNames) {
  EXPECT_EQ(LoadProfile(kDataDir, "h100/nope").error().code, Errc::kNotFound);
  EXPECT_EQ(LoadProfile(kDataDir, "a100/llama-3.1-8b").error().code, Errc::kNotFound);
  for (const char* bad : {"llama-3.1-8b", "/x", "h100/", "h100/a/b", "../h100/llama-3.1-8b"}) {
    EXPECT_EQ(LoadProfile(kDataDir, bad).error().code, Errc::kInvalidArgument) << bad;
  }
  EXPECT_EQ(LoadProfile("/nonexistent", "h100/llama-3.1-8b").error().code, Errc::kNotFound);
}

// KV capacity = (memory x utilization - weights - activation reserve) / (kv bytes x block size),
// recomputed here from the published figures.
TEST(ProfileTest, KvCapacityFollowsTheMemoryFormulaForEveryProfile) {
  for (const std::string& name : ListProfiles(kDataDir)) {
    Profile p = Load(name);
    const double reserve = (1 << 30) +
                           8192.0 * (2.0 * p.shape.intermediate + 4.0 * p.shape.hidden) * 2 +
                           1024.0 * p.shape.vocab * 4;
    EXPECT_EQ(EstimateActivationReserve(p, 8192, 1024), static_cast<int64_t>(reserve)) << name;
    const int64_t expected = static_cast<int64_t>(std::floor(
        (p.gpu_memory_bytes * 0.9 - p.weight_bytes - reserve) / (p.kv_bytes_per_token * 16.0)));
    EXPECT_EQ(NumGpuBlocks(p, 0.9, static_cast<int64_t>(reserve), 16), expected) << name;
    Result<Engine> engine = Engine::Create(p, {});
    ASSERT_TRUE(engine.has_value()) << name;
    EXPECT_EQ(engine->GetStats().num_gpu_blocks, expected) << name;
    EXPECT_EQ(engine->GetStats().kv_cache_usage, 0.0);
  }
  // Orders of magnitude: 8B on an H100 holds ~450k tokens (28k blocks); the H200 twice that.
  Profile h100 = Load("h100/llama-3.1-8b");
  Profile h200 = Load("h200/llama-3.1-8b");
  const int64_t b100 = NumGpuBlocks(h100, 0.9, EstimateActivationReserve(h100, 8192, 1024), 16);
  const int64_t b200 = NumGpuBlocks(h200, 0.9, EstimateActivationReserve(h200, 8192, 1024), 16);
  EXPECT_GT(b100, 25000);
  EXPECT_LT(b100, 30000);
  EXPECT_GT(static_cast<double>(b200) / b100, 1.8);
  // Lower utilization, smaller cache; an explicit reserve is honoured.
  EXPECT_LT(NumGpuBlocks(h100, 0.5, 0, 16), NumGpuBlocks(h100, 0.9, 0, 16));
  EXPECT_EQ(NumGpuBlocks(h100, 0.1, 0, 16), 0);  // weights alone exceed 10% of 80 GB
}

TEST(ProfileTest, EngineRefusesACacheTooSmallForMaxModelLen) {
  Profile p = Load("h100/llama-3.1-8b");
  Result<Engine> engine = Engine::Create(p, {.gpu_memory_utilization = 0.25});
  ASSERT_FALSE(engine.has_value());
  EXPECT_EQ(engine.error().code, Errc::kFailedPrecondition);
  EXPECT_NE(engine.error().message.find("max seq len"), std::string::npos);
  // With a shorter context it fits.
  EXPECT_TRUE(Engine::Create(p, {.gpu_memory_utilization = 0.25, .max_model_len = 4096}));
}

// The fidelity contract `brix sim` is tested against over HTTP: a single request on an idle engine
// with default settings reproduces every whole-model calibration point within 10% + 2 ms.
TEST(CalibrationFidelityTest, SingleRequestsMatchEveryCalibrationPoint) {
  for (const std::string& name : ListProfiles(kDataDir)) {
    Profile p = Load(name);
    double worst[3] = {0, 0, 0};  // relative error: prefill, prefill_cached, decode
    auto check = [&](int table, const std::string& what, Duration got, double want_ms) {
      const double err = Ms(got) - want_ms;
      EXPECT_LE(std::abs(err), 0.1 * want_ms + 2.0)
          << name << " " << what << ": model " << Ms(got) << " ms, measured " << want_ms << " ms";
      worst[table] = std::max(worst[table], std::abs(err) / want_ms);
    };
    TimePoint now{std::chrono::hours(1)};

    for (const CalibrationPoint& point : p.prefill) {
      Engine engine = *Engine::Create(p, {});
      const int32_t n = static_cast<int32_t>(point.tokens);
      ASSERT_TRUE(
          engine.Add({.id = 1, .prompt = Tokens(0, n), .max_output_tokens = 1, .arrival = now}));
      FinishedRequest f = RunToEnd(engine, 1, now);
      check(0, "prefill " + std::to_string(n), f.ttft(), point.ms);
      EXPECT_EQ(f.cached_prompt_tokens, 0);
    }
    for (const CalibrationPoint& point : p.prefill_cached) {
      Engine engine = *Engine::Create(p, {});
      const int32_t n = static_cast<int32_t>(point.tokens);
      const int32_t c = static_cast<int32_t>(point.context);
      std::vector<int32_t> prefix = Tokens(0, c);
      ASSERT_TRUE(engine.Add({.id = 1,
                              .prompt = Concat(prefix, Tokens(1000000, 16)),
                              .max_output_tokens = 1,
                              .arrival = now}));
      RunToEnd(engine, 1, now);
      ASSERT_TRUE(engine.Add({.id = 2,
                              .prompt = Concat(prefix, Tokens(2000000, n)),
                              .max_output_tokens = 1,
                              .arrival = now}));
      FinishedRequest f = RunToEnd(engine, 2, now);
      EXPECT_EQ(f.cached_prompt_tokens, c) << name;
      check(1, "prefill_cached " + std::to_string(n) + "/" + std::to_string(c), f.ttft(), point.ms);
    }
    for (const CalibrationPoint& point : p.decode) {
      if (point.tokens != 1) continue;
      Engine engine = *Engine::Create(p, {});
      const int32_t context = static_cast<int32_t>(point.context);
      ASSERT_TRUE(engine.Add(
          {.id = 1, .prompt = Tokens(0, context - 1), .max_output_tokens = 3, .arrival = now}));
      std::vector<TimePoint> times;
      RunToEnd(engine, 1, now, &times);
      ASSERT_EQ(times.size(), 3u);
      check(2, "decode context " + std::to_string(context), times[1] - times[0], point.ms);
    }
    std::cout << name << ": worst error prefill " << 100 * worst[0] << "%, prefill_cached "
              << 100 * worst[1] << "%, decode " << 100 * worst[2] << "%\n";
  }
}

// Pure steps reproduce the whole-model tables: exactly, except where a measurement is below a
// smaller batch's (noise of a few percent at tiny batches), which the model smooths to keep
// bigger batches from being cheaper.
TEST(StepTimeModelTest, PureStepsReproduceTheWholeModelTables) {
  for (const std::string& name : ListProfiles(kDataDir)) {
    Profile p = Load(name);
    StepTimeModel model(p);
    for (const CalibrationPoint& point : p.prefill_cached) {
      std::array<PrefillChunk, 1> chunk{
          {{static_cast<int32_t>(point.tokens), static_cast<int32_t>(point.context)}}};
      EXPECT_NEAR(model.StepMillis({.prefills = chunk}), point.ms, 0.02 * point.ms)
          << name << " " << point.tokens << "/" << point.context;
    }
    for (const CalibrationPoint& point : p.decode) {
      EXPECT_NEAR(model.StepMillis({.num_decodes = static_cast<int32_t>(point.tokens),
                                    .decode_context_sum = point.tokens * point.context}),
                  point.ms, 0.05 * point.ms)
          << name << " decode " << point.tokens << "x" << point.context;
    }
  }
}

// Mixed batches: more work never takes less time, and a mixed step costs about what its parts
// suggest (no more than the two pure steps run back to back, no less than the larger one).
TEST(StepTimeModelTest, MixedBatchesAreMonotoneAndSane) {
  for (const std::string& name : ListProfiles(kDataDir)) {
    Profile p = Load(name);
    StepTimeModel model(p);
    const std::vector<int32_t> sizes = {1, 7, 16, 100, 512, 2000, 4096, 8192, 12000, 20000};
    const std::vector<int32_t> contexts = {0, 16, 300, 2048, 5000, 8192, 20000, 60000};
    const std::vector<int32_t> batches = {0, 1, 3, 16, 64, 200, 512, 1024};
    for (int32_t b : batches) {
      for (int32_t ctx : {100, 1000, 4000, 16000, 40000}) {
        double prev_n = -1;
        for (int32_t n : sizes) {
          double prev_c = -1;
          for (int32_t c : contexts) {
            std::array<PrefillChunk, 1> chunk{{{n, c}}};
            StepShape mixed{
                .prefills = chunk, .num_decodes = b, .decode_context_sum = int64_t{b} * ctx};
            const double t = model.StepMillis(mixed);
            ASSERT_TRUE(std::isfinite(t) && t > 0) << name;
            EXPECT_GE(t, prev_c) << name << " more cached context n=" << n << " c=" << c
                                 << " b=" << b;
            prev_c = t;
            if (c == 0) {
              EXPECT_GE(t, prev_n) << name << " more new tokens n=" << n << " b=" << b;
              prev_n = t;
            }
            const double prefill_only = model.StepMillis({.prefills = chunk});
            const double decode_only =
                b ? model.StepMillis({.num_decodes = b, .decode_context_sum = int64_t{b} * ctx})
                  : 0;
            EXPECT_GE(t, std::max(prefill_only, decode_only) - 1e-9) << name;
            // (Beyond the linear table the extrapolation is proportional, hence the 0.5%.)
            EXPECT_LE(t, (prefill_only + decode_only) * 1.005) << name;
            // One more decode, or one more token of context each, never speeds a step up.
            StepShape more{.prefills = chunk,
                           .num_decodes = b + 1,
                           .decode_context_sum = int64_t{b} * ctx + ctx};
            EXPECT_GE(model.StepMillis(more), t - 1e-9) << name << " b+1=" << b + 1;
            StepShape longer{
                .prefills = chunk, .num_decodes = b, .decode_context_sum = int64_t{b} * (ctx + 64)};
            EXPECT_GE(model.StepMillis(longer), t - 1e-9) << name << " ctx " << ctx;
          }
        }
      }
    }
    // Two chunks cost more than either alone and less than both as separate steps.
    std::array<PrefillChunk, 2> two{{{1000, 0}, {500, 4000}}};
    const double both = model.StepMillis({.prefills = two});
    const double a = model.StepMillis({.prefills = std::span(two).first(1)});
    const double b = model.StepMillis({.prefills = std::span(two).last(1)});
    EXPECT_GT(both, std::max(a, b));
    EXPECT_LT(both, a + b);
    EXPECT_EQ(model.StepMillis({}), 0.0);
    EXPECT_EQ(model.StepTime({.num_decodes = 1, .decode_context_sum = 256}),
              Duration(std::llround(
                  model.StepMillis({.num_decodes = 1, .decode_context_sum = 256}) * 1e6)));
  }
}

}  // namespace
}  // namespace brix::engine
