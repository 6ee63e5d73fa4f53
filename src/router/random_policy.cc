#include "router/random_policy.h"

#include "router/internal/select.h"

namespace brix::router {

Result<size_t> RandomPolicy::Pick(const RouteRequest& request,
                                  std::span<const EndpointView> candidates) {
  return internal::UniformIndex(request.random, candidates.size());
}

}  // namespace brix::router
