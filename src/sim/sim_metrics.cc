#include "sim/sim_metrics.h"

#include <chrono>
#include <ctime>
#include <string_view>

#include "base/check.h"

namespace brix::sim {
namespace {

using metrics::FamilyOptions;
using metrics::SampleSink;

// Bucket bounds as in vllm/v1/metrics/loggers.py.
const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                          0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                          20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kItlBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                         0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kRequestLatencyBuckets = {
    0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

double Seconds(base::Duration d) { return std::chrono::duration<double>(d).count(); }

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ',';
    out += n;
  }
  return out;
}

}  // namespace

std::vector<double> Buckets125(double max_value) {
  std::vector<double> out;
  for (double exponent = 1;; exponent *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m * exponent > max_value) return out;
      out.push_back(m * exponent);
    }
  }
}

SimMetrics::SimMetrics(metrics::Registry* registry, std::string model_name, int32_t max_model_len,
                       const engine::EngineConfig& engine_config, int64_t num_gpu_blocks,
                       std::function<engine::Stats()> stats) {
  const std::vector<std::string> labels = {"engine", "model_name"};
  const std::string model = model_name;
  auto gauge = [&](std::string name, std::string help,
                   std::function<double(const engine::Stats&)> get) {
    auto reg = registry->AddCallbackGauge(
        FamilyOptions{.name = std::move(name), .help = std::move(help), .label_names = labels},
        [stats, get, model](SampleSink& sink) {
          sink.Add({"0", model}, get(stats()));
        });
    BRIX_CHECK(reg.has_value());
    callbacks_.push_back(std::move(*reg));
  };
  auto counter = [&](std::string name, std::string help,
                     std::function<double(const engine::Stats&)> get) {
    auto reg = registry->AddCallbackCounter(
        FamilyOptions{.name = std::move(name), .help = std::move(help), .label_names = labels},
        [stats, get, model](SampleSink& sink) {
          sink.Add({"0", model}, get(stats()));
        });
    BRIX_CHECK(reg.has_value());
    callbacks_.push_back(std::move(*reg));
  };
  auto histogram = [&](std::string name, std::string help, std::vector<double> buckets) {
    auto family = registry->AddHistogram(
        FamilyOptions{.name = std::move(name), .help = std::move(help), .label_names = labels},
        std::move(buckets));
    BRIX_CHECK(family.has_value());
    return (*family)->WithLabels({"0", model});
  };

  gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
        [](const engine::Stats& s) { return s.num_running; });
  gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
        [](const engine::Stats& s) { return s.num_waiting; });
  gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
        [](const engine::Stats& s) { return s.kv_cache_usage; });
  gauge("vllm:gpu_cache_usage_perc",
        "GPU KV-cache usage. 1 means 100 percent usage. (Deprecated name of "
        "vllm:kv_cache_usage_perc, kept for AIBrix's least-gpu-cache.)",
        [](const engine::Stats& s) { return s.kv_cache_usage; });
  counter("vllm:prefix_cache_queries_total",
          "Prefix cache queries, in terms of number of queried tokens.",
          [](const engine::Stats& s) { return static_cast<double>(s.prefix_cache_queries); });
  counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.",
          [](const engine::Stats& s) { return static_cast<double>(s.prefix_cache_hits); });
  counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.",
          [](const engine::Stats& s) { return static_cast<double>(s.num_preemptions); });
  counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.",
          [](const engine::Stats& s) { return static_cast<double>(s.prompt_tokens); });
  counter("vllm:generation_tokens_total", "Number of generation tokens processed.",
          [](const engine::Stats& s) { return static_cast<double>(s.generation_tokens); });
  {
    auto reg = registry->AddCallbackCounter(
        FamilyOptions{.name = "vllm:request_success_total",
                      .help = "Count of successfully processed requests.",
                      .label_names = {"engine", "finished_reason", "model_name"}},
        [stats, model](SampleSink& sink) {
          const engine::Stats s = stats();
          for (auto reason : {engine::FinishReason::kStop, engine::FinishReason::kLength,
                              engine::FinishReason::kAbort}) {
            sink.Add({"0", engine::FinishReasonName(reason), model},
                     static_cast<double>(s.requests_finished[static_cast<int>(reason)]));
          }
        });
    BRIX_CHECK(reg.has_value());
    callbacks_.push_back(std::move(*reg));
  }
  {
    // vllm:cache_config_info: value 1, the cache config as labels.
    const std::string blocks = std::to_string(num_gpu_blocks);
    const std::string block_size = std::to_string(engine_config.block_size);
    const std::string apc = engine_config.enable_prefix_caching ? "True" : "False";
    const std::string util = std::to_string(engine_config.gpu_memory_utilization);
    auto reg = registry->AddCallbackGauge(
        FamilyOptions{.name = "vllm:cache_config_info",
                      .help = "Information of the LLMEngine CacheConfig",
                      .label_names = {"block_size", "cache_dtype", "enable_prefix_caching",
                                      "engine", "gpu_memory_utilization", "num_gpu_blocks",
                                      "prefix_caching_hash_algo"}},
        [=](SampleSink& sink) {
          sink.Add({block_size, "auto", apc, "0", util, blocks, "xxhash"}, 1.0);
        });
    BRIX_CHECK(reg.has_value());
    callbacks_.push_back(std::move(*reg));
  }
  if (engine_config.enable_lora) {
    // vllm:lora_requests_info: the value is the time of the update; consumers take the newest.
    auto reg = registry->AddCallbackGauge(
        FamilyOptions{
            .name = "vllm:lora_requests_info",
            .help = "Running stats on lora requests.",
            .label_names = {"max_lora", "running_lora_adapters", "waiting_lora_adapters"}},
        [stats](SampleSink& sink) {
          const engine::Stats s = stats();
          sink.Add({std::to_string(s.max_loras), Join(s.running_loras), Join(s.waiting_loras)},
                   static_cast<double>(std::time(nullptr)));
        });
    BRIX_CHECK(reg.has_value());
    callbacks_.push_back(std::move(*reg));
  }

  const double max_len = max_model_len;
  iteration_tokens_ =
      histogram("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.",
                std::vector<double>(engine::kIterationTokenBuckets.begin(),
                                    engine::kIterationTokenBuckets.end()));
  ttft_ = histogram("vllm:time_to_first_token_seconds",
                    "Histogram of time to first token in seconds.", kTtftBuckets);
  itl_ = histogram("vllm:inter_token_latency_seconds",
                   "Histogram of inter-token latency in seconds.", kItlBuckets);
  tpot_legacy_ = histogram("vllm:time_per_output_token_seconds",
                           "Histogram of time per output token in seconds. (Deprecated name of "
                           "vllm:inter_token_latency_seconds.)",
                           kItlBuckets);
  request_tpot_ = histogram("vllm:request_time_per_output_token_seconds",
                            "Histogram of time_per_output_token_seconds per request.", kItlBuckets);
  e2e_ = histogram("vllm:e2e_request_latency_seconds",
                   "Histogram of e2e request latency in seconds.", kRequestLatencyBuckets);
  queue_ =
      histogram("vllm:request_queue_time_seconds",
                "Histogram of time spent in WAITING phase for request.", kRequestLatencyBuckets);
  inference_ =
      histogram("vllm:request_inference_time_seconds",
                "Histogram of time spent in RUNNING phase for request.", kRequestLatencyBuckets);
  prefill_ =
      histogram("vllm:request_prefill_time_seconds",
                "Histogram of time spent in PREFILL phase for request.", kRequestLatencyBuckets);
  decode_ =
      histogram("vllm:request_decode_time_seconds",
                "Histogram of time spent in DECODE phase for request.", kRequestLatencyBuckets);
  prompt_tokens_ = histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.",
                             Buckets125(max_len));
  generation_tokens_ = histogram("vllm:request_generation_tokens",
                                 "Number of generation tokens processed.", Buckets125(max_len));
}

void SimMetrics::OnStep(const EngineLoop::StepReport& report) {
  const engine::StepResult& step = *report.step;
  if (step.num_scheduled_tokens > 0) iteration_tokens_->Observe(step.num_scheduled_tokens);
  for (double t : report.ttft_seconds) ttft_->Observe(t);
  for (double t : report.itl_seconds) {
    itl_->Observe(t);
    tpot_legacy_->Observe(t);
  }
  for (const engine::FinishedRequest& f : step.finished) {
    e2e_->Observe(Seconds(f.e2e_latency()));
    queue_->Observe(Seconds(f.queue_time()));
    inference_->Observe(Seconds(f.inference_time()));
    prefill_->Observe(Seconds(f.prefill_time()));
    decode_->Observe(Seconds(f.decode_time()));
    prompt_tokens_->Observe(f.prompt_tokens);
    generation_tokens_->Observe(f.output_tokens);
    if (f.output_tokens > 1) {
      request_tpot_->Observe(Seconds(f.decode_time()) / (f.output_tokens - 1));
    }
  }
}

}  // namespace brix::sim
