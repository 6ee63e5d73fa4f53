#include "router/least_request_policy.h"

#include <limits>

#include "base/check.h"
#include "router/internal/select.h"

namespace brix::router {

size_t PickLeastInFlight(uint64_t random, std::span<const EndpointView> candidates) {
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  // Every candidate has a score, so MinWithRandomTies always finds one.
  return *internal::MinWithRandomTies(candidates.size(), random, [&](size_t i) {
    return std::optional<double>(static_cast<double>(candidates[i].in_flight));
  });
}

size_t PickLowestMetric(EndpointMetric metric, uint64_t random,
                        std::span<const EndpointView> candidates) {
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  std::optional<size_t> best = internal::MinWithRandomTies(
      candidates.size(), random, [&](size_t i) { return metric(candidates[i]); });
  return best ? *best : PickLeastInFlight(random, candidates);
}

std::optional<Polarity> LowestMetricScores(EndpointMetric metric,
                                           std::span<const EndpointView> candidates,
                                           std::span<double> scores) {
  for (size_t i = 0; i < candidates.size(); ++i) {
    scores[i] = metric(candidates[i]).value_or(std::numeric_limits<double>::quiet_NaN());
  }
  return Polarity::kLowerIsBetter;
}

Result<size_t> LeastRequestPolicy::Pick(const RouteRequest& request,
                                        std::span<const EndpointView> candidates) {
  return PickLeastInFlight(request.random, candidates);
}

std::optional<Polarity> LeastRequestPolicy::Score(const RouteRequest& request,
                                                  std::span<const EndpointView> candidates,
                                                  std::span<double> scores) {
  (void)request;
  for (size_t i = 0; i < candidates.size(); ++i) {
    scores[i] = static_cast<double>(candidates[i].in_flight);
  }
  return Polarity::kLowerIsBetter;
}

}  // namespace brix::router
