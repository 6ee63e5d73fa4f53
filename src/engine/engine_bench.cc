// Benchmarks of the engine model: simulating an hour of one engine's Poisson traffic in virtual
// time (the cluster simulator's inner loop), and the cost of one step.
//
//   build/release/src/engine/engine_bench --benchmark_filter=Hour
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/engine.h"

namespace brix::engine {
namespace {

Profile LoadOrDie(const char* name) {
  Result<Profile> p = LoadProfile(BRIX_ENGINE_PROFILES_DIR, name);
  if (!p) std::abort();
  return *p;
}

// Chat-like traffic: Poisson arrivals at `rate` per second for `seconds`; each prompt is one of
// 8 shared system prompts (1024 tokens) plus a lognormal user part (median ~400 tokens); outputs
// lognormal (median ~200 tokens), capped at 1024.
std::vector<Request> Traffic(double rate, double seconds, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> gap(rate);
  std::lognormal_distribution<double> user(std::log(400.0), 0.8);
  std::lognormal_distribution<double> output(std::log(200.0), 0.7);
  std::vector<Request> requests;
  TimePoint t{std::chrono::hours(1)};
  const TimePoint end =
      t + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
  int32_t next_token = 1 << 20;
  for (RequestId id = 1;; ++id) {
    t += std::chrono::duration_cast<Duration>(std::chrono::duration<double>(gap(rng)));
    if (t >= end) break;
    Request r;
    r.id = id;
    r.arrival = t;
    const int32_t system = static_cast<int32_t>(rng() % 8) * 4096;
    const int32_t n = std::clamp(static_cast<int32_t>(user(rng)), 1, 8000);
    r.prompt.reserve(1024 + n);
    for (int32_t i = 0; i < 1024; ++i) r.prompt.push_back(system + i);
    for (int32_t i = 0; i < n; ++i) r.prompt.push_back(next_token++);
    r.max_output_tokens = 1024;
    r.output_tokens = std::clamp(static_cast<int32_t>(output(rng)), 1, 1024);
    requests.push_back(std::move(r));
  }
  return requests;
}

// One hour of traffic at range(0) requests/s, driven with RunUntil (as the cluster simulator
// does): wall time per simulated hour is the benchmark's time.
void BM_SimulateHour(benchmark::State& state) {
  const Profile profile = LoadOrDie("h100/llama-3.1-8b");
  const double rate = static_cast<double>(state.range(0));
  const std::vector<Request> traffic = Traffic(rate, 3600, 42);
  int64_t steps = 0, finished = 0, preemptions = 0;
  double ttft_sum = 0;
  double simulated_s = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Request> requests = traffic;
    Engine engine = *Engine::Create(profile, {});
    state.ResumeTiming();
    TimePoint now = requests.front().arrival;
    const TimePoint start = now;
    for (Request& r : requests) {
      const RunResult& run = engine.RunUntil(now, r.arrival);
      for (const FinishedRequest& f : run.finished)
        ttft_sum += std::chrono::duration<double>(f.ttft()).count();
      finished += static_cast<int64_t>(run.finished.size());
      now = std::max(run.end, r.arrival);
      if (!engine.Add(std::move(r))) std::abort();
    }
    const RunResult& run = engine.RunUntil(now, TimePoint::max());
    finished += static_cast<int64_t>(run.finished.size());
    for (const FinishedRequest& f : run.finished)
      ttft_sum += std::chrono::duration<double>(f.ttft()).count();
    Stats s = engine.GetStats();
    steps += s.num_steps;
    preemptions += s.num_preemptions;
    simulated_s = std::chrono::duration<double>(run.end - start).count();
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["requests"] = static_cast<double>(traffic.size());
  state.counters["steps"] = static_cast<double>(steps) / iters;
  state.counters["preemptions"] = static_cast<double>(preemptions) / iters;
  state.counters["mean_ttft_ms"] =
      1000 * ttft_sum / static_cast<double>(std::max<int64_t>(1, finished));
  state.counters["simulated_s"] = simulated_s;
}
BENCHMARK(BM_SimulateHour)->Arg(2)->Arg(8)->Arg(16)->Unit(benchmark::kMillisecond);

// Steady state: range(0) requests decoding forever; one Step() per iteration, with per-token
// outputs as the real-time shell uses it.
void BM_DecodeStep(benchmark::State& state) {
  const Profile profile = LoadOrDie("h100/llama-3.1-8b");
  Engine engine = *Engine::Create(profile, {});
  TimePoint now{std::chrono::hours(1)};
  const int32_t batch = static_cast<int32_t>(state.range(0));
  RequestId id = 1;
  auto refill = [&] {
    while (engine.GetStats().num_running + engine.GetStats().num_waiting < batch) {
      std::vector<int32_t> prompt(512);
      for (int32_t i = 0; i < 512; ++i) prompt[i] = static_cast<int32_t>(id * 1000 + i);
      if (!engine.Add(
              {.id = id++, .prompt = std::move(prompt), .max_output_tokens = 4000, .arrival = now}))
        std::abort();
    }
  };
  refill();
  for (auto _ : state) {
    const StepResult& step = engine.Step(now);
    now = step.end;
    benchmark::DoNotOptimize(step.tokens.data());
    if (!step.finished.empty()) refill();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_DecodeStep)->Arg(1)->Arg(64)->Arg(256);

void BM_StepTimeModel(benchmark::State& state) {
  const Profile profile = LoadOrDie("h100/llama-3.1-8b");
  StepTimeModel model(profile);
  std::array<PrefillChunk, 2> chunks{{{700, 1024}, {300, 0}}};
  int64_t context = 10000;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        model.StepTime({.prefills = chunks, .num_decodes = 48, .decode_context_sum = context}));
    context = context % 500000 + 7;
  }
}
BENCHMARK(BM_StepTimeModel);

}  // namespace
}  // namespace brix::engine
