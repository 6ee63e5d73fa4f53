// The gateway's view of its endpoints: per-endpoint live state (in-flight count, health, the
// last scrape, the models it serves) and the immutable Snapshot that the request path reads.
//
// A Snapshot is rebuilt whenever discovery delivers a new topology; an endpoint whose spec did
// not change keeps its EndpointState (and so its in-flight count, health and metrics) across
// rebuilds. The request path loads the current Snapshot once per request and never sees it
// change under it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "discovery/discovery.h"
#include "gateway/gateway.h"
#include "gateway/health.h"
#include "net/client.h"
#include "router/router.h"

namespace brix::gateway {

// What an endpoint serves: declared by discovery, or learned from its GET /v1/models.
struct ServedModels {
  std::vector<std::string> models;    // base models
  std::vector<std::string> adapters;  // LoRA adapters (cards with a parent)
  // The engine's model cards (id, JSON object), for the union in the gateway's /v1/models.
  std::vector<std::pair<std::string, std::string>> cards;
};

struct ScrapedMetrics {
  router::EngineMetrics metrics;
  std::chrono::steady_clock::time_point at;
};

class EndpointState {
 public:
  EndpointState(discovery::Endpoint spec, const EjectionOptions& ejection);

  // Applies a new declaration of the models this endpoint serves (a reload that changed only
  // `models:`): the state itself, in-flight count and health included, carries on. Empty means
  // "learn them from /v1/models" from now on. Called by BuildSnapshot (the discovery thread).
  void Redeclare(const std::vector<std::string>& models);

  // Name and address as discovery gave them. `spec.models` is the first declaration; the
  // current one is in `served` / `learn_models`.
  const discovery::Endpoint spec;
  const std::string address;  // "host:port"
  const net::HostPort host_port;
  HealthTracker health;

  std::atomic<int64_t> in_flight{0};
  // Prompt tokens of the in-flight requests, and how many of those requests (and tokens) have
  // no first byte back yet (router::EndpointView's token loads). Counted only for requests that
  // were tokenized (a policy that routes on token ids); the others add 0 tokens.
  std::atomic<int64_t> in_flight_tokens{0};
  std::atomic<int64_t> awaiting_first_token{0};
  std::atomic<int64_t> awaiting_prompt_tokens{0};
  // Whether the scraper learns the models from GET /v1/models (none declared).
  std::atomic<bool> learn_models{true};
  // Null until known (declared models are known from the start).
  std::atomic<std::shared_ptr<const ServedModels>> served;
  // Null until the first successful scrape.
  std::atomic<std::shared_ptr<const ScrapedMetrics>> scraped;
  // Set when a new topology no longer holds this endpoint; its scrape loop then ends.
  std::atomic<bool> removed{false};
  // Set after the scraper's first pass (metrics and, when not declared, models).
  std::atomic<bool> first_pass_done{false};
};

// Per-model settings resolved against the gateway's defaults.
struct ModelSettings {
  router::Policy* policy = nullptr;  // never null
  std::chrono::milliseconds request_timeout{0};
};

struct Snapshot {
  std::shared_ptr<const discovery::Topology> topology;
  std::vector<std::shared_ptr<EndpointState>> endpoints;
  std::unordered_map<std::string, ModelSettings> models;  // models the topology configures
};

// The policies a gateway knows, one shared instance per name (round-robin keeps its counter
// and the prefix-aware ones their index): every one of router::PolicyNames() when the gateway
// can tokenize prompts, else those that need no token ids.
class PolicySet {
 public:
  explicit PolicySet(bool can_tokenize);
  // Null for an unknown name.
  router::Policy* Find(std::string_view name) const;
  // Why Find(name) is null: "unknown routing strategy 'x' (known: ...)", or that the policy
  // routes on token ids and the gateway has no tokenizer.
  std::string WhyUnknown(std::string_view name) const;
  // The names Find knows, in router::PolicyNames() order.
  const std::vector<std::string_view>& names() const { return names_; }

 private:
  std::unordered_map<std::string, std::unique_ptr<router::Policy>> policies_;
  std::vector<std::string_view> names_;
  std::vector<std::string_view> need_tokenizer_;  // left out for want of a tokenizer
};

// Builds the next snapshot from `topology`, reusing the states of `previous` with the same name
// and address (a change of declared models is applied to the kept state) and marking the others
// removed. A model whose routing_strategy is unknown keeps the
// default policy; `warnings` receives one line per such problem.
std::shared_ptr<const Snapshot> BuildSnapshot(std::shared_ptr<const discovery::Topology> topology,
                                              const Snapshot* previous,
                                              const GatewayOptions& options,
                                              const PolicySet& policies,
                                              router::Policy* default_policy,
                                              std::vector<std::string>* warnings);

// The per-request view of a snapshot for the router: EndpointViews pointing into the states and
// into the shared_ptrs it holds (so they stay alive while the views are used).
class CandidateViews {
 public:
  void Fill(const Snapshot& snapshot, std::chrono::steady_clock::time_point now);
  std::vector<router::EndpointView>& views() { return views_; }
  EndpointState& state(size_t i) const { return *states_[i]; }

 private:
  std::vector<router::EndpointView> views_;
  std::vector<EndpointState*> states_;
  std::vector<std::shared_ptr<const ServedModels>> served_;
  std::vector<std::shared_ptr<const ScrapedMetrics>> scraped_;
};

}  // namespace brix::gateway
