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
  // Prefix-cache hit rate as the engine itself reports it, 0..1 (SGLang's recent-window gauge,
  // vLLM V0's gpu_prefix_cache_hit_rate); hits / queries above is the lifetime rate.
  std::optional<double> prefix_cache_hit_rate;
};

// One endpoint as a policy sees it. Views into the caller's state, valid during the call.
struct EndpointView {
  std::string_view name;                   // stable id; what the `target-pod` header says
  std::string_view address;                // "host:port"
  bool healthy = true;                     // false while ejected or failing its probes
  int64_t in_flight = 0;                   // requests this gateway sent and that have not finished
  const EngineMetrics* metrics = nullptr;  // null until the first successful scrape
  double metrics_age_s = 0;                // seconds since that scrape
  std::span<const std::string> models;     // base models served
  std::span<const std::string> adapters;   // LoRA adapters loaded
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
};

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
};

// A new policy of the given name ("random", "round-robin", "least-request", "least-kv-cache",
// ...; router/README.md gives their semantics). Each call returns an independent object (its own
// round-robin counter). Unknown name -> InvalidArgument whose message lists PolicyNames().
Result<std::unique_ptr<Policy>> MakePolicy(std::string_view name);
// The names MakePolicy knows, in a fixed order.
std::vector<std::string_view> PolicyNames();

// Whether `endpoint` serves `model`: it equals (exactly, case-sensitively) one of its `models`
// or one of its loaded `adapters`.
bool Serves(const EndpointView& endpoint, std::string_view model);

// Filters `endpoints` to the healthy ones serving request.model and lets `policy` pick; returns
// the index into `endpoints`. NotFound when no endpoint serves the model at all; Unavailable
// when some do but none is healthy; the policy's own error unchanged. When every endpoint
// qualifies the policy sees `endpoints` itself; otherwise a copy of the qualifying views (on the
// stack for up to 32, so usually without allocating). Thread-safe as far as the policy is.
Result<size_t> Route(Policy& policy, const RouteRequest& request,
                     std::span<const EndpointView> endpoints);

}  // namespace brix::router
