// Route() per policy over snapshots of 4, 16 and 64 endpoints: the per-request cost the gateway
// pays to choose an engine.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "router/router.h"

namespace brix::router {
namespace {

// SplitMix64: a cheap, well-mixed draw per request, as the gateway would pass.
uint64_t NextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// A model's snapshot: every endpoint serves it, loads vary and some tie.
struct Snapshot {
  explicit Snapshot(size_t n, bool one_down) : metrics(n) {
    names.reserve(n);
    for (size_t i = 0; i < n; ++i) names.push_back("engine-" + std::to_string(i));
    for (size_t i = 0; i < n; ++i) {
      metrics[i].running = static_cast<double>(i % 5);
      metrics[i].kv_cache_usage = static_cast<double>((i * 7) % 10) / 10;
      views.push_back({.name = names[i],
                       .address = names[i],
                       .healthy = !(one_down && i == n / 2),
                       .in_flight = static_cast<int64_t>((i * 3) % 8),
                       .metrics = &metrics[i],
                       .models = models});
    }
  }

  std::vector<std::string> models = {"meta-llama/Llama-3.1-8B-Instruct"};
  std::vector<std::string> names;
  std::vector<EngineMetrics> metrics;
  std::vector<EndpointView> views;
};

void BM_Route(benchmark::State& state, std::string_view policy_name, bool one_down) {
  std::unique_ptr<Policy> policy = MakePolicy(policy_name).value();
  const Snapshot snapshot(static_cast<size_t>(state.range(0)), one_down);
  RouteRequest request{.model = "meta-llama/Llama-3.1-8B-Instruct"};
  uint64_t rng = 42;
  for (auto _ : state) {
    request.random = NextRandom(rng);
    Result<size_t> pick = Route(*policy, request, snapshot.views);
    benchmark::DoNotOptimize(pick);
  }
  state.SetItemsProcessed(state.iterations());
}

// All endpoints healthy: Route() hands the snapshot to the policy as is.
BENCHMARK_CAPTURE(BM_Route, random, "random", false)->Arg(4)->Arg(16)->Arg(64);
BENCHMARK_CAPTURE(BM_Route, round_robin, "round-robin", false)->Arg(4)->Arg(16)->Arg(64);
BENCHMARK_CAPTURE(BM_Route, least_request, "least-request", false)->Arg(4)->Arg(16)->Arg(64);
BENCHMARK_CAPTURE(BM_Route, least_kv_cache, "least-kv-cache", false)->Arg(4)->Arg(16)->Arg(64);
// One endpoint down: Route() copies the healthy ones (on the stack up to 32, then the heap).
BENCHMARK_CAPTURE(BM_Route, least_request_one_down, "least-request", true)
    ->Arg(4)
    ->Arg(16)
    ->Arg(64);

// Round-robin's one counter shared by the gateway's workers, under contention.
void BM_RouteRoundRobinShared(benchmark::State& state) {
  static const std::unique_ptr<Policy> policy = MakePolicy("round-robin").value();
  const Snapshot snapshot(static_cast<size_t>(state.range(0)), false);
  const RouteRequest request{.model = "meta-llama/Llama-3.1-8B-Instruct"};
  for (auto _ : state) {
    Result<size_t> pick = Route(*policy, request, snapshot.views);
    benchmark::DoNotOptimize(pick);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RouteRoundRobinShared)->Arg(16)->Threads(1)->Threads(2);

}  // namespace
}  // namespace brix::router
