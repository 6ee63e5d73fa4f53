#include "router/round_robin_policy.h"

#include "base/check.h"

namespace brix::router {

Result<size_t> RoundRobinPolicy::Pick(const RouteRequest& /*request*/,
                                      std::span<const EndpointView> candidates) {
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  // Relaxed is enough: each caller needs a distinct turn, not ordering with other memory.
  const uint64_t turn = next_.fetch_add(1, std::memory_order_relaxed);
  return static_cast<size_t>(turn % candidates.size());
}

}  // namespace brix::router
