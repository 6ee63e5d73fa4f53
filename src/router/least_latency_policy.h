// `least-latency` (and `brix`, `oracle`): the endpoint expected to return this prompt's first
// token soonest.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "router/prefix_index.h"
#include "router/router.h"

namespace brix::router {

// Estimated time to first token on each candidate, from what the gateway knows now:
//
//   cached   = prompt tokens the endpoint likely holds (the PrefixIndex match; the oracle asks
//              EndpointView::cache, the engine's true cache)
//   new      = prompt tokens - cached
//   backlog  = in_flight_prompt_tokens x (1 - hit), the uncached prompt tokens queued ahead of
//              it; hit is the endpoint's recent cached fraction (an average over the last ~32
//              requests routed there, as estimated at their routing)
//   ttft     = PrefillSeconds(backlog + new, cached)
//            + ceil((backlog + new) / StepTokenBudget) x DecodeStepSeconds(in_flight)
//
// i.e. the prefill work ahead plus this prompt's uncached part at the profile's speed, each
// prefill step also carrying the running batch's decode. The smallest estimate wins, ties random.
// Score: the estimate in seconds, lower is better.
//
// This replaces AIBrix's least-latency, whose estimate is a per-pod mean of lifetime histograms
// scaled by one-day PromQL averages and ignores both the queue (its queue term reads a histogram
// as a gauge and is always 0) and the prompt's cache.
class LeastLatencyPolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "least-latency";
  static constexpr std::string_view kOracleName = "oracle";
  static constexpr size_t kBlockSize = 64;

  enum class Cache : uint8_t { kIndex, kOracle };

  LeastLatencyPolicy(std::string_view name, const PolicyOptions& options, Cache cache);

  std::string_view name() const override { return name_; }
  bool needs_tokens() const override { return true; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;
  bool can_score() const override { return true; }
  std::optional<Polarity> Score(const RouteRequest& request,
                                std::span<const EndpointView> candidates,
                                std::span<double> scores) override;
  void Observe(const RouteRequest& request, const EndpointView& chosen) override;

 private:
  // Cached prompt tokens per candidate.
  void CachedTokens(const RouteRequest& request, std::span<const EndpointView> candidates,
                    std::span<const uint64_t> hashes, std::span<int64_t> cached) const;
  double HitFraction(std::string_view endpoint) const;

  std::string name_;
  std::shared_ptr<const LatencyModel> latency_;
  Cache cache_;
  PrefixIndex index_;
  mutable std::mutex mu_;
  std::map<std::string, double, std::less<>> hit_;  // endpoint -> recent cached fraction
};

}  // namespace brix::router
