#include "router/throughput_policy.h"

#include <optional>

#include "router/least_request_policy.h"

namespace brix::router {
namespace {

std::optional<double> TokensPerRequest(const EndpointView& e) {
  const EngineMetrics* m = e.metrics;
  if (m == nullptr || !m->prompt_tokens || !m->generation_tokens || !m->requests_finished ||
      !(*m->requests_finished > 0)) {
    return std::nullopt;
  }
  return (2 * *m->prompt_tokens + *m->generation_tokens) / *m->requests_finished;
}

}  // namespace

Result<size_t> ThroughputPolicy::Pick(const RouteRequest& request,
                                      std::span<const EndpointView> candidates) {
  return PickLowestMetric(&TokensPerRequest, request.random, candidates);
}

std::optional<Polarity> ThroughputPolicy::Score(const RouteRequest& request,
                                                std::span<const EndpointView> candidates,
                                                std::span<double> scores) {
  (void)request;
  return LowestMetricScores(&TokensPerRequest, candidates, scores);
}

}  // namespace brix::router
