// `random`: a uniformly random candidate.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "router/router.h"

namespace brix::router {

// Picks candidate floor(request.random * n / 2^64), so a uniform draw gives a uniform choice and
// a seeded draw a reproducible one. Reads nothing else; keeps no state, so any thread.
//
// AIBrix's `random` (pkg/plugins/gateway/algorithms/random.go) is the same choice over the ready
// pods, drawn from Go's global RNG; it is also AIBrix's fallback when a policy cannot score
// anything.
class RandomPolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "random";

  std::string_view name() const override { return kName; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;
};

}  // namespace brix::router
