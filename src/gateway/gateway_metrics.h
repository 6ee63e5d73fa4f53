// The gateway's own Prometheus metrics (its /metrics), and a per-worker cache of the labelled
// handles the request path updates, so that a request does not take a family's mutex.
//
// Families (labels in braces):
//   brix_gateway_requests_total{model,endpoint,code}       requests answered, by final status
//   brix_gateway_request_duration_seconds{model}            end-to-end latency at the gateway
//   brix_gateway_time_to_first_token_seconds{model}         arrival -> first content chunk sent
//   brix_gateway_inter_token_latency_seconds{model}         between content chunks of a stream
//   brix_gateway_routing_duration_seconds                   policy decision time
//   brix_gateway_retries_total{model}                       attempts after the first
//   brix_gateway_tokens_total{model,kind}                   prompt / completion tokens (usage)
//   brix_gateway_ejections_total{endpoint}                  endpoints taken out of rotation
//   brix_gateway_engine_scrapes_total{endpoint,result}      ok / error / unreachable
//   brix_gateway_tenant_requests_total{tenant,outcome}      admitted / unlimited / rate_limited /
//                                                           max_tokens / forbidden /
//                                                           unauthenticated (tenant "") /
//                                                           unavailable (quota backend down)
// and, evaluated at scrape time from the live snapshot:
//   brix_gateway_in_flight_requests{endpoint}, brix_gateway_endpoint_healthy{endpoint},
//   brix_gateway_engine_metrics_age_seconds{endpoint}       staleness of the last good scrape
//   brix_gateway_engine_running_requests{endpoint}, ..._waiting_requests, ..._kv_cache_usage
//   brix_gateway_topology_generation
//   brix_gateway_fair_share_waiting                        requests waiting for a slot
// Model labels are only ever names the topology or the engines know (unknown models count
// under model=""), so a client cannot grow the label set.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/error.h"
#include "metrics/registry.h"

namespace brix::gateway {

struct ModelHandles {
  std::shared_ptr<metrics::Histogram> duration;
  std::shared_ptr<metrics::Histogram> ttft;
  std::shared_ptr<metrics::Histogram> itl;
  std::shared_ptr<metrics::Counter> retries;
  std::shared_ptr<metrics::Counter> prompt_tokens;
  std::shared_ptr<metrics::Counter> completion_tokens;
};

class GatewayMetrics {
 public:
  static Result<std::unique_ptr<GatewayMetrics>> Create(metrics::Registry& registry);

  // Handles for `model`, cached per thread.
  const ModelHandles& ForModel(std::string_view model);
  metrics::Counter& Requests(std::string_view model, std::string_view endpoint, unsigned code);
  metrics::Histogram& routing() { return *routing_; }
  metrics::Counter& Ejections(std::string_view endpoint);
  metrics::Counter& Scrapes(std::string_view endpoint, std::string_view result);
  metrics::Counter& TenantRequests(std::string_view tenant, std::string_view outcome);

  metrics::Registry& registry() { return registry_; }

 private:
  explicit GatewayMetrics(metrics::Registry& registry) : registry_(registry) {}
  struct ThreadCache;
  ThreadCache& Cache();

  metrics::Registry& registry_;
  metrics::CounterFamily* requests_ = nullptr;
  metrics::HistogramFamily* duration_ = nullptr;
  metrics::HistogramFamily* ttft_ = nullptr;
  metrics::HistogramFamily* itl_ = nullptr;
  metrics::CounterFamily* retries_ = nullptr;
  metrics::CounterFamily* tokens_ = nullptr;
  metrics::CounterFamily* ejections_ = nullptr;
  metrics::CounterFamily* scrapes_ = nullptr;
  metrics::CounterFamily* tenant_requests_ = nullptr;
  std::shared_ptr<metrics::Histogram> routing_;
  const uint64_t id_ = NextId();
  static uint64_t NextId();
};

}  // namespace brix::gateway
