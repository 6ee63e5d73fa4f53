#include "router/least_kv_cache_policy.h"

#include <limits>
#include <optional>

#include "base/check.h"
#include "router/internal/select.h"
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
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  std::optional<size_t> best = internal::MinWithRandomTies(
      candidates.size(), request.random, [&](size_t i) { return Usage(candidates[i]); });
  if (best) return *best;
  return PickLeastInFlight(request.random, candidates);
}

std::optional<Polarity> LeastKvCachePolicy::Score(const RouteRequest& request,
                                                  std::span<const EndpointView> candidates,
                                                  std::span<double> scores) {
  (void)request;
  for (size_t i = 0; i < candidates.size(); ++i) {
    scores[i] = Usage(candidates[i]).value_or(std::numeric_limits<double>::quiet_NaN());
  }
  return Polarity::kLowerIsBetter;
}

}  // namespace brix::router
