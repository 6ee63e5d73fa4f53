// SimMetrics: vLLM V1's Prometheus metrics for one simulated engine, with vLLM's names, types,
// labels ({engine="0", model_name=<served name>}) and histogram buckets
// (vllm/v1/metrics/loggers.py::PrometheusStatLogger).
//
// Gauges and counters that the engine keeps (running, waiting, KV usage, prefix cache, tokens,
// preemptions, finished requests) are read from EngineLoop::stats() at scrape time; histograms
// are observed on the loop thread as steps publish (OnStep). Besides the current names it emits
// `vllm:gpu_cache_usage_perc` (the pre-0.9 name of the KV gauge, which AIBrix's
// least-gpu-cache policy still reads) and `vllm:time_per_output_token_seconds`.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "metrics/registry.h"
#include "sim/engine_loop.h"

namespace brix::sim {

class SimMetrics {
 public:
  // Registers every family in `registry`; `stats` returns the engine's current Stats (from any
  // thread). `engine_config` feeds vllm:cache_config_info and vllm:lora_requests_info.
  SimMetrics(metrics::Registry* registry, std::string model_name, int32_t max_model_len,
             const engine::EngineConfig& engine_config, int64_t num_gpu_blocks,
             std::function<engine::Stats()> stats);

  // Loop thread: one published step.
  void OnStep(const EngineLoop::StepReport& report);

 private:
  using HistogramPtr = std::shared_ptr<metrics::Histogram>;

  std::vector<metrics::CallbackRegistration> callbacks_;
  HistogramPtr iteration_tokens_;
  HistogramPtr ttft_;
  HistogramPtr itl_;
  HistogramPtr tpot_legacy_;
  HistogramPtr e2e_;
  HistogramPtr queue_;
  HistogramPtr inference_;
  HistogramPtr prefill_;
  HistogramPtr decode_;
  HistogramPtr request_tpot_;
  HistogramPtr prompt_tokens_;
  HistogramPtr generation_tokens_;
};

// vLLM's build_1_2_5_buckets(max_value): 1, 2, 5, 10, 20, 50, ... up to max_value.
std::vector<double> Buckets125(double max_value);

}  // namespace brix::sim
