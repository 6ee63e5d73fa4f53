#include "router/least_kv_cache_policy.h"

#include <optional>

#include "base/check.h"
#include "router/internal/select.h"
#include "router/least_request_policy.h"

namespace brix::router {

Result<size_t> LeastKvCachePolicy::Pick(const RouteRequest& request,
                                        std::span<const EndpointView> candidates) {
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  std::optional<size_t> best =
      internal::MinWithRandomTies(candidates.size(), request.random, [&](size_t i) {
        const EngineMetrics* m = candidates[i].metrics;
        if (m == nullptr || !m->kv_cache_usage) return std::optional<double>();
        return std::optional<double>(*m->kv_cache_usage + m->cpu_cache_usage.value_or(0));
      });
  if (best) return *best;
  return PickLeastInFlight(request.random, candidates);
}

}  // namespace brix::router
