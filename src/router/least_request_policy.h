// `least-request`: the candidate with the fewest requests in flight from this gateway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "router/router.h"

namespace brix::router {

// Picks the candidate with the smallest EndpointView::in_flight (the gateway's own real-time
// count, not the engine's scraped `running`, which lags by a scrape interval). When several share
// the smallest count, the k-th of them in candidate order wins, k = floor(random * ties / 2^64):
// uniform over the tied ones. Stateless, so any thread.
//
// Our reading of AIBrix's least-request (pkg/plugins/gateway/algorithms/least_request.go, with
// the shared min-score selection in its RouteByScore/SelectByScore): each ready pod is scored by
// the running-request count the gateways keep themselves (a pod without a count scores 0, which
// in_flight = 0 gives us for free), the lowest score wins and ties are drawn uniformly at random.
// AIBrix sums that count over its gateway replicas through Redis; ours is this gateway's alone.
// Its per-port variant for data-parallel pods has no counterpart: one endpoint is one address.
class LeastRequestPolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "least-request";

  std::string_view name() const override { return kName; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;
  // in_flight, lower is better.
  bool can_score() const override { return true; }
  std::optional<Polarity> Score(const RouteRequest& request,
                                std::span<const EndpointView> candidates,
                                std::span<double> scores) override;
};

// The selection above as a function, for policies that fall back to it.
size_t PickLeastInFlight(uint64_t random, std::span<const EndpointView> candidates);

// The shape of the policies that rank endpoints by one number from their last scrape
// (least-kv-cache, throughput): a candidate without the number (nullopt) is unknown rather than
// idle and is skipped while any candidate has one; the lowest wins, ties uniformly by `random`;
// when no candidate has a number, PickLeastInFlight.
using EndpointMetric = std::optional<double> (*)(const EndpointView&);
size_t PickLowestMetric(EndpointMetric metric, uint64_t random,
                        std::span<const EndpointView> candidates);
// Policy::Score for such a policy: scores[i] = metric(candidates[i]), NaN where it is nullopt.
std::optional<Polarity> LowestMetricScores(EndpointMetric metric,
                                           std::span<const EndpointView> candidates,
                                           std::span<double> scores);

}  // namespace brix::router
