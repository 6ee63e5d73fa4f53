#include "router/least_request_policy.h"

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

Result<size_t> LeastRequestPolicy::Pick(const RouteRequest& request,
                                        std::span<const EndpointView> candidates) {
  return PickLeastInFlight(request.random, candidates);
}

}  // namespace brix::router
