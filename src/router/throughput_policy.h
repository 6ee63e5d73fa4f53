// `throughput`: AIBrix's policy of that name, for compatibility with its routing-strategy values.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "router/router.h"

namespace brix::router {

// Scores each candidate by the work its requests have cost on average, counting a prompt token
// twice and a generated token once: (2 x prompt tokens + generated tokens) / finished requests,
// from the engine's own counters (vllm:prompt_tokens_total, vllm:generation_tokens_total,
// vllm:request_success_total; SGLang's equivalents). The lowest score wins, ties uniformly by
// RouteRequest::random.
//
// A candidate without a score (no scrape yet, a counter missing, or no finished request) is
// skipped while another has one; when none has, the pick is least-request's, as in
// least-kv-cache.
//
// Our reading of AIBrix (pkg/plugins/gateway/algorithms/throughput.go): the score is
// 2 x avg_prompt_toks_per_req + avg_generation_toks_per_req, both PromQL ratios of the engine's
// counters over one day; unscored pods are skipped, the minimum wins with random ties, and with
// no scored pod a random ready pod is taken. The gateway has no Prometheus, so the averages here
// run over the engine's lifetime (the counters as scraped); for engines younger than a day that
// is the same number. As in AIBrix the score is a property of the traffic an engine has served,
// not of its load now, so it steers new requests towards whichever replica happened to get the
// shorter ones; it is offered as a baseline and for manifests written for AIBrix, not as a
// good choice.
class ThroughputPolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "throughput";

  std::string_view name() const override { return kName; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;
  // The weighted tokens per request, lower is better; NaN for a candidate without a score.
  bool can_score() const override { return true; }
  std::optional<Polarity> Score(const RouteRequest& request,
                                std::span<const EndpointView> candidates,
                                std::span<double> scores) override;
};

}  // namespace brix::router
