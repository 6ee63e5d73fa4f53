// `least-kv-cache`: the candidate whose engine reported the least KV cache in use.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "router/router.h"

namespace brix::router {

// Scores each candidate by kv_cache_usage + cpu_cache_usage from its last scrape (a missing
// cpu_cache_usage counts as 0: vLLM V1 and SGLang do not export one) and picks the lowest score;
// ties are broken uniformly by RouteRequest::random, as in least-request.
//
// A candidate without a score (no scrape yet, `metrics` null, or a page without a KV usage
// gauge) is unknown rather than idle: it is skipped while any candidate has a score, so a fresh
// or unscrapable engine does not draw every request until its first scrape. If no candidate has
// a score the pick is least-request's (fewest in flight, ties random). Metrics are used however
// old they are (`metrics_age_s` is not read): a caller that considers them too stale passes
// null `metrics` instead. Stateless, so any thread.
//
// Between two scrapes the scores do not move, so all requests in that interval go to the same
// endpoint (ties aside). That is inherent to routing on scraped load, as in AIBrix; least-request
// reacts per request.
//
// Our reading of AIBrix's least-kv-cache (pkg/plugins/gateway/algorithms/least_kv_cache.go and
// RouteByScore/SelectByScore): GPU KV usage plus CPU cache usage (absent -> 0), pods without the
// GPU gauge unscored, lowest score wins, ties random. Where nothing is scored AIBrix picks a
// random ready pod; we use least-request, which needs no scrape.
class LeastKvCachePolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "least-kv-cache";

  std::string_view name() const override { return kName; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;
  // The usage sum, lower is better; NaN for a candidate without a score.
  bool can_score() const override { return true; }
  std::optional<Polarity> Score(const RouteRequest& request,
                                std::span<const EndpointView> candidates,
                                std::span<double> scores) override;
};

}  // namespace brix::router
