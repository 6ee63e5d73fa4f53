#include "router/throughput_policy.h"

#include <limits>
#include <optional>

#include "base/check.h"
#include "router/internal/select.h"
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
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  std::optional<size_t> best = internal::MinWithRandomTies(
      candidates.size(), request.random, [&](size_t i) { return TokensPerRequest(candidates[i]); });
  if (best) return *best;
  return PickLeastInFlight(request.random, candidates);
}

std::optional<Polarity> ThroughputPolicy::Score(const RouteRequest& request,
                                                std::span<const EndpointView> candidates,
                                                std::span<double> scores) {
  (void)request;
  for (size_t i = 0; i < candidates.size(); ++i) {
    scores[i] = TokensPerRequest(candidates[i]).value_or(std::numeric_limits<double>::quiet_NaN());
  }
  return Polarity::kLowerIsBetter;
}

}  // namespace brix::router
