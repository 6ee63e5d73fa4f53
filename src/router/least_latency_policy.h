// `least-latency`, `brix` and `oracle`: the endpoint expected to return this prompt's first
// token soonest, and Brix's default, which also weighs what a cache miss costs the requests
// behind it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
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

// Time to first token on each candidate, estimated from what the gateway knows now:
//
//   cached  = prompt tokens the endpoint likely holds: the PrefixIndex match (64-token blocks
//             of where earlier prompts went); the oracle asks EndpointView::cache instead
//   fresh   = prompt tokens - cached
//   backlog = the uncached prompt tokens queued ahead. The endpoint's awaiting_first_token
//             requests are, in a first-come-first-served engine, the newest ones this policy
//             routed there: their prompts minus their cached parts (as estimated when they
//             were routed) x calibration are summed, so that one long miss queued on an
//             otherwise well-cached endpoint counts in full. Awaiting prompt tokens beyond
//             those remembered (requests routed by another gateway) count x (1 - hit x
//             calibration), hit being the endpoint's recent cached fraction (an average over
//             the last ~32 requests routed there).
//   calibration = the engine's own prefix-cache hit fraction (vllm:prefix_cache_hits_total /
//             _queries_total, scraped) over the fraction the index predicted for the prompts
//             routed there, both over the last minute or so, at most 1: the index lists blocks
//             the engine may have evicted since (on the Mooncake trace the engines' caches turn
//             over within minutes and the index's estimates of a queue are optimistic; on a
//             workload that fits in cache it is ~1). 1 until the engine has reported 100k
//             prompt tokens, or when its page has no such counters.
//   ttft    = PrefillSeconds(backlog + fresh, cached)
//           + ceil((backlog + fresh) / StepTokenBudget) x DecodeStepSeconds(in_flight,
//                                                                          in_flight_tokens)
//
// i.e. the prefill work ahead and this prompt's uncached part at the engine profile's speed,
// every prefill step also carrying the running batch's decode. `least-latency` picks the
// smallest ttft. That greedy choice moves a conversation away from its cache as soon as another
// endpoint is momentarily idle, and the fresh copy it prefills there delays everything queued
// behind it; under load the moves feed on each other and the cache hit rate collapses.
//
// `brix` (the default) adds to each candidate's ttft the cost of its cache miss to others:
//
//   extra   = PrefillSeconds(fresh - min over candidates of fresh, cached): the prefill this
//             choice adds over the best-cached one
//   penalty = (3 x awaiting_first_token + 10 x (queue + queue^2)) x extra
//           + 0.5 s x kv_cache_usage
//
// `queue` is the endpoint's average number of requests awaiting a first token, sampled at every
// routing decision (Poisson arrivals see time averages), so the penalty is ~0 on an idle
// cluster, where moving is free, and grows faster than the queue an extra prefill delays (near
// saturation every request a move adds work for is followed by more). The KV usage
// term (scraped; 0 before the first scrape) steers new conversations away from endpoints whose
// memory is held by long running contexts, which will come back to them. The weights were chosen
// with the cluster simulator on the synthetic multi-turn workload of docs/benchmarks.md and
// checked on the Mooncake trace; they are not derived.
//
// `oracle` is `brix` with the engines' true caches instead of the index: the gap between the two
// is what an approximate index costs.
//
// AIBrix's least-latency, for contrast, ranks pods by lifetime mean prefill and decode times
// scaled by one-day PromQL averages; its queue term reads a histogram as a gauge and is always 0,
// and it ignores the prompt's cache (pkg/plugins/gateway/algorithms/least_latency.go).
//
// Score: the ttft (plus the penalty for brix and oracle) in seconds, lower is better.
class LeastLatencyPolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "least-latency";
  static constexpr std::string_view kOracleName = "oracle";
  static constexpr size_t kBlockSize = 64;

  struct Options {
    bool oracle = false;        // cached tokens from EndpointView::cache, not the index
    bool miss_penalty = false;  // add brix's penalty
  };

  LeastLatencyPolicy(std::string_view name, const PolicyOptions& options, Options mode);

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
  // One request routed to an endpoint: its prompt tokens and the part estimated cached.
  struct Routed {
    int64_t prompt = 0;
    int64_t cached = 0;
  };
  struct EndpointState {
    double hit = 0;             // recent cached fraction of what was routed there
    bool seen = false;          // hit holds a value
    double queue = 0;           // average awaiting_first_token, sampled at routing decisions
    std::deque<Routed> recent;  // the newest requests routed there, newest last
    // Calibration: prompt tokens the engine reported queried and hit in its prefix cache, and
    // those this policy routed there and expected cached, all decaying with time.
    double last_queries = -1;  // the engine's counters at the last scrape seen
    double last_hits = 0;
    double engine_queries = 0;
    double engine_hits = 0;
    double predicted_queries = 0;
    double predicted_hits = 0;
    double decayed_at = 0;

    void Decay(double now);
    void Count(const EngineMetrics& metrics);
    // The engine's hit fraction over the predicted one, in [0, 1]; 1 until the engine has
    // reported enough.
    double Calibration() const;
  };

  // The endpoint's backlog: uncached prompt tokens awaiting their first token (see the header).
  static double Backlog(const EndpointState& s, const EndpointView& e);

  // Cached prompt tokens per candidate.
  void CachedTokens(const RouteRequest& request, std::span<const EndpointView> candidates,
                    std::span<const uint64_t> hashes, std::span<int64_t> cached) const;

  std::string name_;
  std::shared_ptr<const LatencyModel> latency_;
  Options mode_;
  PrefixIndex index_;
  std::mutex mu_;
  std::map<std::string, EndpointState, std::less<>> state_;
};

}  // namespace brix::router
