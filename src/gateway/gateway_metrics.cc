#include "gateway/gateway_metrics.h"

#include <atomic>
#include <string>
#include <vector>

namespace brix::gateway {

namespace {

// vLLM's bounds (vllm/v1/metrics/loggers.py) with finer ones below for fast engines.
std::vector<double> TtftBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25, 0.5,  0.75,
          1.0,   2.5,    5.0,   7.5,  10.0, 20.0, 40.0, 80.0, 160., 640., 2560.};
}
std::vector<double> ItlBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,  0.15, 0.2,  0.3,
          0.4,   0.5,    0.75,  1.0,  2.5,   5.0,  7.5,   10.0, 20.0, 40.0, 80.0};
}
std::vector<double> DurationBuckets() {
  return {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,  0.3,  0.5,   0.8,  1.0,  1.5,  2.0,   2.5,  5.0,
          10.0,  15.0,  20.0, 30.0,  40.0, 50.0, 60.0, 120.0, 240., 480., 960., 1920., 7680.};
}

}  // namespace

uint64_t GatewayMetrics::NextId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

Result<std::unique_ptr<GatewayMetrics>> GatewayMetrics::Create(metrics::Registry& registry) {
  std::unique_ptr<GatewayMetrics> m(new GatewayMetrics(registry));
  auto requests = registry.AddCounter({"brix_gateway_requests_total",
                                       "Requests answered by the gateway, by final HTTP status.",
                                       {"model", "endpoint", "code"}});
  auto duration =
      registry.AddHistogram({"brix_gateway_request_duration_seconds",
                             "Time from a request's arrival to the end of its response.",
                             {"model"}},
                            DurationBuckets());
  auto ttft = registry.AddHistogram(
      {"brix_gateway_time_to_first_token_seconds",
       "Time from a request's arrival to its first content chunk (streams) or its response.",
       {"model"}},
      TtftBuckets());
  auto itl = registry.AddHistogram({"brix_gateway_inter_token_latency_seconds",
                                    "Time between content chunks of a stream.",
                                    {"model"}},
                                   ItlBuckets());
  auto routing = registry.AddHistogram(
      {"brix_gateway_routing_duration_seconds", "Time the routing policy took to pick.", {}},
      metrics::ExponentialBuckets(1e-6, 2, 16));
  auto retries = registry.AddCounter(
      {"brix_gateway_retries_total", "Attempts on another endpoint after a failure.", {"model"}});
  auto tokens = registry.AddCounter(
      {"brix_gateway_tokens_total", "Tokens reported in usage by the engines.", {"model", "kind"}});
  auto ejections = registry.AddCounter(
      {"brix_gateway_ejections_total", "Endpoints taken out of rotation.", {"endpoint"}});
  auto scrapes = registry.AddCounter({"brix_gateway_engine_scrapes_total",
                                      "Engine /metrics scrapes by result.",
                                      {"endpoint", "result"}});
  auto tenant_requests = registry.AddCounter({"brix_gateway_tenant_requests_total",
                                              "Requests by tenant and quota outcome.",
                                              {"tenant", "outcome"}});
  for (const auto* r : {&requests, &retries, &tokens, &ejections, &scrapes, &tenant_requests}) {
    if (!*r) return r->error();
  }
  for (const auto* r : {&duration, &ttft, &itl, &routing}) {
    if (!*r) return r->error();
  }
  m->requests_ = *requests;
  m->duration_ = *duration;
  m->ttft_ = *ttft;
  m->itl_ = *itl;
  m->retries_ = *retries;
  m->tokens_ = *tokens;
  m->ejections_ = *ejections;
  m->scrapes_ = *scrapes;
  m->tenant_requests_ = *tenant_requests;
  m->routing_ = (*routing)->WithLabels(std::span<const std::string_view>());
  return m;
}

struct GatewayMetrics::ThreadCache {
  uint64_t owner = 0;
  std::unordered_map<std::string, ModelHandles> models;
  std::unordered_map<std::string, std::shared_ptr<metrics::Counter>> counters;
};

GatewayMetrics::ThreadCache& GatewayMetrics::Cache() {
  thread_local ThreadCache cache;
  if (cache.owner != id_) {
    cache.owner = id_;
    cache.models.clear();
    cache.counters.clear();
  }
  return cache;
}

const ModelHandles& GatewayMetrics::ForModel(std::string_view model) {
  ThreadCache& cache = Cache();
  auto it = cache.models.find(std::string(model));
  if (it != cache.models.end()) return it->second;
  ModelHandles h;
  h.duration = duration_->WithLabels({model});
  h.ttft = ttft_->WithLabels({model});
  h.itl = itl_->WithLabels({model});
  h.retries = retries_->WithLabels({model});
  h.prompt_tokens = tokens_->WithLabels({model, "prompt"});
  h.completion_tokens = tokens_->WithLabels({model, "completion"});
  return cache.models.emplace(std::string(model), std::move(h)).first->second;
}

metrics::Counter& GatewayMetrics::Requests(std::string_view model, std::string_view endpoint,
                                           unsigned code) {
  ThreadCache& cache = Cache();
  std::string key;
  key.reserve(model.size() + endpoint.size() + 8);
  key.append("r\x1f").append(model).append("\x1f").append(endpoint).append("\x1f");
  key.append(std::to_string(code));
  auto it = cache.counters.find(key);
  if (it != cache.counters.end()) return *it->second;
  const std::string code_str = std::to_string(code);
  auto counter = requests_->WithLabels({model, endpoint, code_str});
  return *cache.counters.emplace(std::move(key), std::move(counter)).first->second;
}

metrics::Counter& GatewayMetrics::Ejections(std::string_view endpoint) {
  return *ejections_->WithLabels({endpoint});
}

metrics::Counter& GatewayMetrics::Scrapes(std::string_view endpoint, std::string_view result) {
  ThreadCache& cache = Cache();
  std::string key = "s\x1f" + std::string(endpoint) + "\x1f" + std::string(result);
  auto it = cache.counters.find(key);
  if (it != cache.counters.end()) return *it->second;
  auto counter = scrapes_->WithLabels({endpoint, result});
  return *cache.counters.emplace(std::move(key), std::move(counter)).first->second;
}

metrics::Counter& GatewayMetrics::TenantRequests(std::string_view tenant,
                                                 std::string_view outcome) {
  ThreadCache& cache = Cache();
  std::string key = "t\x1f" + std::string(tenant) + "\x1f" + std::string(outcome);
  auto it = cache.counters.find(key);
  if (it != cache.counters.end()) return *it->second;
  auto counter = tenant_requests_->WithLabels({tenant, outcome});
  return *cache.counters.emplace(std::move(key), std::move(counter)).first->second;
}

}  // namespace brix::gateway
