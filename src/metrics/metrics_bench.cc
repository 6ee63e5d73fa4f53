// Benchmarks of the metrics hot paths (updates through cached handles), of rendering /metrics,
// and of parsing an engine's page.
#include <benchmark/benchmark.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "metrics/exposition.h"
#include "metrics/parser.h"
#include "metrics/registry.h"

namespace brix::metrics {
namespace {

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(BRIX_METRICS_TESTDATA_DIR) + "/" + name, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Shared by the threads of one multi-threaded run.
Registry& SharedRegistry() {
  static Registry registry;
  return registry;
}

void BM_CounterIncCachedHandle(benchmark::State& state) {
  static std::shared_ptr<Counter> counter =
      SharedRegistry()
          .AddCounter({.name = "bench_requests_total", .label_names = {"model", "code"}})
          .value()
          ->WithLabels({"meta-llama/Llama-3.1-8B-Instruct", "200"});
  for (auto _ : state) counter->Inc();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CounterIncCachedHandle)->Threads(1)->Threads(2);

void BM_CounterWithLabelsLookup(benchmark::State& state) {
  Registry registry;
  CounterFamily* family =
      registry.AddCounter({.name = "requests_total", .label_names = {"model", "code"}}).value();
  for (int m = 0; m < 20; ++m) family->WithLabels({"model-" + std::to_string(m), "200"});
  for (auto _ : state) {
    family->WithLabels({"model-7", "200"})->Inc();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CounterWithLabelsLookup);

void BM_GaugeAdd(benchmark::State& state) {
  static std::shared_ptr<Gauge> gauge =
      SharedRegistry().AddGauge({.name = "bench_in_flight"}).value()->WithLabels({});
  for (auto _ : state) gauge->Add(1);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GaugeAdd)->Threads(1)->Threads(2);

void BM_HistogramObserve(benchmark::State& state) {
  static std::shared_ptr<Histogram> histogram =
      SharedRegistry()
          .AddHistogram({.name = "bench_latency_seconds"}, ExponentialBuckets(0.001, 2, 20))
          .value()
          ->WithLabels({});
  std::mt19937_64 rng(state.thread_index());
  std::lognormal_distribution<double> latency(-3, 1.5);
  std::vector<double> values(4096);
  for (double& v : values) v = latency(rng);
  size_t i = 0;
  for (auto _ : state) histogram->Observe(values[i++ & 4095]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(2);

// About 200 series: 80 labelled counters, 80 labelled gauges, 40 histograms of 12 buckets.
void BM_RenderText200Series(benchmark::State& state) {
  Registry registry;
  CounterFamily* requests = registry
                                .AddCounter({.name = "brix_requests_total",
                                             .help = "Requests by model and status.",
                                             .label_names = {"model", "code"}})
                                .value();
  GaugeFamily* in_flight = registry
                               .AddGauge({.name = "brix_endpoint_in_flight",
                                          .help = "Requests in flight per endpoint.",
                                          .label_names = {"endpoint", "model"}})
                               .value();
  HistogramFamily* ttft = registry
                              .AddHistogram({.name = "brix_time_to_first_token_seconds",
                                             .help = "Time to first token.",
                                             .label_names = {"model"}},
                                            ExponentialBuckets(0.01, 2, 12))
                              .value();
  for (int i = 0; i < 80; ++i) {
    const std::string model = "model-" + std::to_string(i / 4);
    requests->WithLabels({model, std::to_string(200 + i % 4)})->Inc(1000 + i);
    in_flight->WithLabels({"10.0.0." + std::to_string(i) + ":8000", model})->Set(i % 7);
  }
  for (int i = 0; i < 40; ++i) {
    std::shared_ptr<Histogram> h = ttft->WithLabels({"model-" + std::to_string(i)});
    for (int k = 0; k < 100; ++k) h->Observe(0.001 * k * (i + 1));
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = RenderText(registry);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["page_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderText200Series);

void BM_ParseVllmPage(benchmark::State& state) {
  const std::string text = ReadTestdata("vllm_v1_metrics.txt");
  if (text.empty()) {
    state.SkipWithError("testdata/vllm_v1_metrics.txt not found");
    return;
  }
  for (auto _ : state) {
    Result<ParsedPage> page = ParseText(text);
    benchmark::DoNotOptimize(page);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["page_bytes"] = static_cast<double>(text.size());
}
BENCHMARK(BM_ParseVllmPage);

// What the gateway does per scrape: parse, then read the few series routing needs.
void BM_ParseVllmPageAndReadRoutingSignals(benchmark::State& state) {
  const std::string text = ReadTestdata("vllm_v1_metrics.txt");
  if (text.empty()) {
    state.SkipWithError("testdata/vllm_v1_metrics.txt not found");
    return;
  }
  const LabelPair model{"model_name", "meta-llama/Llama-3.1-8B-Instruct"};
  for (auto _ : state) {
    Result<ParsedPage> page = ParseText(text);
    double signals =
        page->Find("vllm:num_requests_running")->Sum({model}).value_or(0) +
        page->Find("vllm:num_requests_waiting")->Sum({model}).value_or(0) +
        page->Find("vllm:kv_cache_usage_perc")->Sum({model}).value_or(0) +
        page->Find("vllm:time_to_first_token_seconds")->ReadHistogram({model})->Quantile(0.9);
    benchmark::DoNotOptimize(signals);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_ParseVllmPageAndReadRoutingSignals);

}  // namespace
}  // namespace brix::metrics
