#include "gateway/endpoints.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace brix::gateway {

namespace {

std::string AddressOf(const discovery::Endpoint& e) {
  return net::HostPort(e.host, e.port).ToString();
}

}  // namespace

EndpointState::EndpointState(discovery::Endpoint spec_in, const EjectionOptions& ejection)
    : spec(std::move(spec_in)),
      address(AddressOf(spec)),
      host_port(spec.host, spec.port),
      health(ejection) {
  Redeclare(spec.models);
}

void EndpointState::Redeclare(const std::vector<std::string>& models) {
  if (models.empty()) {
    // Keep what is known until the scraper's next /v1/models answer replaces it.
    learn_models.store(true);
    return;
  }
  auto declared = std::make_shared<ServedModels>();
  declared->models = models;
  served.store(std::move(declared));
  learn_models.store(false);
}

PolicySet::PolicySet(bool can_tokenize) {
  for (std::string_view name : router::PolicyNames()) {
    auto policy = router::MakePolicy(name);
    if (!policy) continue;
    // Without a tokenizer a policy that routes on token ids would see none and quietly degrade
    // to its fallback; it is refused instead.
    if ((*policy)->needs_tokens() && !can_tokenize) {
      need_tokenizer_.push_back(name);
      continue;
    }
    names_.push_back(name);
    policies_.emplace(std::string(name), std::move(*policy));
  }
}

std::string PolicySet::WhyUnknown(std::string_view name) const {
  if (std::find(need_tokenizer_.begin(), need_tokenizer_.end(), name) != need_tokenizer_.end()) {
    return fmt::format(
        "routing strategy '{}' routes on the prompt's token ids and this gateway has no "
        "tokenizer (start it with --tokenizer DIR)",
        name);
  }
  return fmt::format("unknown routing strategy '{}' (known: {})", name, fmt::join(names_, ", "));
}

router::Policy* PolicySet::Find(std::string_view name) const {
  auto it = policies_.find(std::string(name));
  return it == policies_.end() ? nullptr : it->second.get();
}

std::shared_ptr<const Snapshot> BuildSnapshot(std::shared_ptr<const discovery::Topology> topology,
                                              const Snapshot* previous,
                                              const GatewayOptions& options,
                                              const PolicySet& policies,
                                              router::Policy* default_policy,
                                              std::vector<std::string>* warnings) {
  auto next = std::make_shared<Snapshot>();
  next->topology = topology;
  std::unordered_map<std::string, std::shared_ptr<EndpointState>> old;
  if (previous != nullptr) {
    for (const auto& state : previous->endpoints) old.emplace(state->spec.name, state);
  }
  for (const discovery::Endpoint& spec : topology->endpoints) {
    auto it = old.find(spec.name);
    const bool same =
        it != old.end() && it->second->spec.host == spec.host && it->second->spec.port == spec.port;
    if (same) {
      EndpointState& state = *it->second;
      const bool was_learning = state.learn_models.load();
      std::shared_ptr<const ServedModels> current = state.served.load();
      const bool declared_same = spec.models.empty()
                                     ? was_learning
                                     : !was_learning && current && current->models == spec.models;
      if (!declared_same) state.Redeclare(spec.models);
      next->endpoints.push_back(it->second);
      old.erase(it);
    } else {
      next->endpoints.push_back(std::make_shared<EndpointState>(spec, options.ejection));
    }
  }
  for (auto& [name, state] : old) state->removed.store(true);
  for (const discovery::ModelSpec& spec : topology->models) {
    ModelSettings settings{default_policy, options.request_timeout};
    if (spec.routing_strategy) {
      router::Policy* policy = policies.Find(*spec.routing_strategy);
      if (policy != nullptr) {
        settings.policy = policy;
      } else if (warnings != nullptr) {
        warnings->push_back(fmt::format("model {}: {}; using '{}'", spec.name,
                                        policies.WhyUnknown(*spec.routing_strategy),
                                        default_policy->name()));
      }
    }
    if (spec.request_timeout) settings.request_timeout = *spec.request_timeout;
    next->models[spec.name] = settings;
  }
  return next;
}

void CandidateViews::Fill(const Snapshot& snapshot, std::chrono::steady_clock::time_point now) {
  const size_t n = snapshot.endpoints.size();
  views_.clear();
  states_.clear();
  served_.clear();
  scraped_.clear();
  views_.reserve(n);
  for (const auto& state : snapshot.endpoints) {
    router::EndpointView view;
    view.name = state->spec.name;
    view.address = state->address;
    view.healthy = !state->health.ejected();
    view.in_flight = state->in_flight.load(std::memory_order_relaxed);
    view.in_flight_tokens = state->in_flight_tokens.load(std::memory_order_relaxed);
    view.awaiting_first_token = state->awaiting_first_token.load(std::memory_order_relaxed);
    view.awaiting_prompt_tokens = state->awaiting_prompt_tokens.load(std::memory_order_relaxed);
    std::shared_ptr<const ServedModels> served = state->served.load();
    if (served) {
      view.models = served->models;
      view.adapters = served->adapters;
    }
    std::shared_ptr<const ScrapedMetrics> scraped = state->scraped.load();
    if (scraped) {
      view.metrics = &scraped->metrics;
      view.metrics_age_s = std::chrono::duration<double>(now - scraped->at).count();
    }
    views_.push_back(view);
    states_.push_back(state.get());
    served_.push_back(std::move(served));
    scraped_.push_back(std::move(scraped));
  }
}

}  // namespace brix::gateway
