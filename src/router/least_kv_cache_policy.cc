#include "router/least_kv_cache_policy.h"

#include <optional>

#include "router/least_request_policy.h"

namespace brix::router {
namespace {

std::optional<double> Usage(const EndpointView& e) {
  const EngineMetrics* m = e.metrics;
  if (m == nullptr || !m->kv_cache_usage) return std::nullopt;
  return *m->kv_cache_usage + m->cpu_cache_usage.value_or(0);
}

}  // namespace

Result<size_t> LeastKvCachePolicy::Pick(const RouteRequest& request,
                                        std::span<const EndpointView> candidates) {
  return PickLowestMetric(&Usage, request.random, candidates);
}

std::optional<Polarity> LeastKvCachePolicy::Score(const RouteRequest& request,
                                                  std::span<const EndpointView> candidates,
                                                  std::span<double> scores) {
  (void)request;
  return LowestMetricScores(&Usage, candidates, scores);
}

}  // namespace brix::router
