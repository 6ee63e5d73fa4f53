// Routing: which engine endpoint serves a request. A pure library (no I/O, no clocks, no
// threads of its own) so the gateway and the virtual-time cluster simulator run the same code.
//
//   Result<std::unique_ptr<Policy>> policy = MakePolicy("least-request");
//   std::vector<EndpointView> candidates = ...;       // the gateway's snapshot, this request
//   RouteRequest request{.model = "llama-3.1-8b", .random = rng()};
//   Result<size_t> i = Route(**policy, request, candidates);   // index into candidates
//
// What a policy sees is an immutable snapshot taken for this request: every endpoint the model's
// set holds, with its health, the gateway's real-time in-flight count, the engine metrics from
// the last scrape (possibly stale: `metrics_age_s` says how stale) and the models and adapters
// it serves. Route() keeps the ones that serve the model and are healthy, and asks the policy to
// pick among them.
//
// Threading: a Policy is shared by all gateway workers; Pick() may run concurrently and must be
// thread-safe (atomics for any state). Randomness comes from RouteRequest::random so that a
// seeded simulator is deterministic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace brix::router {

// Engine load as its /metrics reported it, in one schema for vLLM and SGLang
// (router/engine_metrics.h maps the names). A field the engine does not export stays nullopt.
struct EngineMetrics {
  std::optional<double> running;               // requests in the running batch
  std::optional<double> waiting;               // requests queued in the engine
  std::optional<double> kv_cache_usage;        // fraction of GPU KV cache in use, 0..1
  std::optional<double> cpu_cache_usage;       // fraction of CPU (offload) KV cache in use, 0..1
  std::optional<double> prefix_cache_queries;  // counters, tokens; hit rate = hits / queries
  std::optional<double> prefix_cache_hits;
  std::optional<double> prompt_tokens;      // counter: prompt tokens processed so far
  std::optional<double> generation_tokens;  // counter: generated tokens so far
  std::optional<double> preemptions;        // counter
  std::optional<double> requests_finished;  // counter: requests finished, any reason
  // Prefix-cache hit rate as the engine itself reports it, 0..1 (SGLang's recent-window gauge,
  // vLLM V0's gpu_prefix_cache_hit_rate); hits / queries above is the lifetime rate.
  std::optional<double> prefix_cache_hit_rate;
};

// How fast an endpoint's engine computes, for policies that estimate time to first token. The
// caller builds it from the engine profile (cluster simulator, gateway config); router/README.md
// gives the default used when there is none.
class LatencyModel {
 public:
  virtual ~LatencyModel() = default;
  // Seconds for one batch that prefills `new_tokens` after `cached_tokens` already in cache.
  virtual double PrefillSeconds(int64_t new_tokens, int64_t cached_tokens) const = 0;
  // Seconds of one decode step for `batch` requests holding `context_tokens` tokens in all.
  virtual double DecodeStepSeconds(int64_t batch, int64_t context_tokens) const = 0;
  // Most tokens one engine step schedules (vLLM's max_num_batched_tokens).
  virtual int64_t StepTokenBudget() const = 0;
};

// What MakePolicy passes to the policies that need more than a name.
struct PolicyOptions {
  std::shared_ptr<const LatencyModel> latency;  // null: DefaultLatencyModel()
};

// Llama-3.1-8B in bf16 on one H100 (data/profiles/h100), as straight lines: prefill
// 6.5 ms + 28 us per new token + 1.6 ns per new x cached token, decode step 6.6 ms + 0.08 ms per
// request, 8192 tokens per step.
std::shared_ptr<const LatencyModel> DefaultLatencyModel();

// What an endpoint's engine really holds in its prefix cache. Only a simulator can know it (the
// `oracle` policy's input); the gateway leaves EndpointView::cache null.
class CacheProbe {
 public:
  virtual ~CacheProbe() = default;
  // Leading tokens of `token_ids` a request would find cached on this endpoint now.
  virtual int64_t CachedPrefixTokens(std::span<const uint32_t> token_ids) const = 0;
};

// One endpoint as a policy sees it. Views into the caller's state, valid during the call.
struct EndpointView {
  std::string_view name;     // stable id; what the `target-pod` header says
  std::string_view address;  // "host:port"
  bool healthy = true;       // false while ejected or failing its probes
  int64_t in_flight = 0;     // requests this gateway sent and that have not finished
  // Prompt tokens of those requests: the context the running batch attends to (0 when the
  // caller does not count tokens).
  int64_t in_flight_tokens = 0;
  // Those of the in-flight requests that have no first token yet (queued or in prefill), and
  // their prompt tokens: the prefill work this gateway has queued on the endpoint.
  int64_t awaiting_first_token = 0;
  int64_t awaiting_prompt_tokens = 0;
  const EngineMetrics* metrics = nullptr;  // null until the first successful scrape
  double metrics_age_s = 0;                // seconds since that scrape
  std::span<const std::string> models;     // base models served
  std::span<const std::string> adapters;   // LoRA adapters loaded
  const CacheProbe* cache = nullptr;       // the engine's true cache; simulators only
  // The endpoint's speed (its engine profile) if the caller knows it; else the policy's
  // PolicyOptions::latency.
  const LatencyModel* latency = nullptr;
};

// What a policy may read of the request.
struct RouteRequest {
  std::string_view model;               // as the client named it (base model or adapter)
  std::span<const uint32_t> token_ids;  // filled only for policies with needs_tokens()
  // Header lookup (lower-case name) for policies that read headers (e.g. x-session-id); may
  // be empty.
  std::function<std::optional<std::string_view>(std::string_view)> header;
  // A uniformly random 64-bit draw for this request. Policies turn it into an index in [0, n)
  // as floor(random * n / 2^64) (multiply-shift: the high bits decide, no modulo bias).
  uint64_t random = 0;
  // The caller's clock in seconds (monotonic; virtual time in the simulator), for policies that
  // keep state which expires (the prefix index).
  double now_s = 0;
};

// Whether a higher or a lower score is better (Policy::Score).
enum class Polarity : uint8_t { kHigherIsBetter, kLowerIsBetter };

class Policy {
 public:
  virtual ~Policy() = default;
  // The name users pass in `routing-strategy`, e.g. "least-request".
  virtual std::string_view name() const = 0;
  // Whether RouteRequest::token_ids must be filled (prefix-aware policies).
  virtual bool needs_tokens() const { return false; }
  // Picks one of `candidates` (non-empty, which is a precondition checked by BRIX_CHECK; all
  // healthy and serving the model, in snapshot order) and returns its index, which must be
  // < candidates.size(). Thread-safe.
  virtual Result<size_t> Pick(const RouteRequest& request,
                              std::span<const EndpointView> candidates) = 0;
  // Whether Score() gives scores, so the policy can be part of a weighted combination.
  virtual bool can_score() const { return false; }
  // For weighted combinations (`prefix-cache:2,least-request`): writes one raw score per
  // candidate into `scores` (same size; NaN = cannot score this one) and says which way is
  // better; nullopt when this policy has no scores (can_score() is false). Thread-safe.
  virtual std::optional<Polarity> Score(const RouteRequest& request,
                                        std::span<const EndpointView> candidates,
                                        std::span<double> scores) {
    (void)request, (void)candidates, (void)scores;
    return std::nullopt;
  }
  // Told, after every successful Route(), where the request went (whoever picked it), so that
  // policies that learn from routing (the prefix index) see every decision. Thread-safe.
  virtual void Observe(const RouteRequest& request, const EndpointView& chosen) {
    (void)request, (void)chosen;
  }
};

// A new policy of the given name ("random", "round-robin", "least-request", "least-kv-cache",
// ...; router/README.md gives their semantics), or a weighted combination of scoring policies
// in AIBrix's syntax, "prefix-cache:2,least-request" (router/weighted_policy.h). Each call
// returns an independent object (its own counters and prefix index). Unknown name ->
// InvalidArgument whose message lists PolicyNames().
Result<std::unique_ptr<Policy>> MakePolicy(std::string_view name,
                                           const PolicyOptions& options = {});
// Brix's own default policy (router/README.md says what it is and why).
inline constexpr std::string_view kBrixPolicyName = "brix";

// The names MakePolicy knows, in a fixed order.
std::vector<std::string_view> PolicyNames();

// Whether `endpoint` serves `model`: it equals (exactly, case-sensitively) one of its `models`
// or one of its loaded `adapters`.
bool Serves(const EndpointView& endpoint, std::string_view model);

// Filters `endpoints` to the healthy ones serving request.model, lets `policy` pick and tells it
// the pick (Policy::Observe); returns the index into `endpoints`. NotFound when no endpoint serves
// the model at all; Unavailable when some do but none is healthy; the policy's own error unchanged.
// When every endpoint qualifies the policy sees `endpoints` itself; otherwise a copy of the
// qualifying views (on the stack for up to 32, so usually without allocating). Thread-safe as far
// as the policy is.
Result<size_t> Route(Policy& policy, const RouteRequest& request,
                     std::span<const EndpointView> endpoints);

}  // namespace brix::router
