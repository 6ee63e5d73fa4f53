#include "router/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "base/check.h"
#include "router/aibrix_prefix_cache_policy.h"
#include "router/internal/inline_vector.h"
#include "router/least_kv_cache_policy.h"
#include "router/least_latency_policy.h"
#include "router/least_request_policy.h"
#include "router/llm_d_policy.h"
#include "router/prefix_cache_policy.h"
#include "router/random_policy.h"
#include "router/round_robin_policy.h"
#include "router/session_affinity_policy.h"
#include "router/sglang_cache_aware_policy.h"
#include "router/throughput_policy.h"
#include "router/weighted_policy.h"

namespace brix::router {
namespace {

template <typename P>
std::unique_ptr<Policy> Make(const PolicyOptions&) {
  return std::make_unique<P>();
}

std::unique_ptr<Policy> MakeLeastLatency(const PolicyOptions& options) {
  return std::make_unique<LeastLatencyPolicy>(LeastLatencyPolicy::kName, options,
                                              LeastLatencyPolicy::Options{});
}

std::unique_ptr<Policy> MakeBrix(const PolicyOptions& options) {
  return std::make_unique<LeastLatencyPolicy>(kBrixPolicyName, options,
                                              LeastLatencyPolicy::Options{.miss_penalty = true});
}

std::unique_ptr<Policy> MakeOracle(const PolicyOptions& options) {
  return std::make_unique<LeastLatencyPolicy>(
      LeastLatencyPolicy::kOracleName, options,
      LeastLatencyPolicy::Options{.oracle = true, .miss_penalty = true});
}

struct Registration {
  std::string_view name;
  std::unique_ptr<Policy> (*make)(const PolicyOptions&);
};

// The registry: one line per policy, in the order PolicyNames() lists them.
constexpr std::array kPolicies = {
    Registration{kBrixPolicyName, &MakeBrix},
    Registration{RandomPolicy::kName, &Make<RandomPolicy>},
    Registration{RoundRobinPolicy::kName, &Make<RoundRobinPolicy>},
    Registration{LeastRequestPolicy::kName, &Make<LeastRequestPolicy>},
    Registration{LeastKvCachePolicy::kName, &Make<LeastKvCachePolicy>},
    Registration{PrefixCachePolicy::kName, &Make<PrefixCachePolicy>},
    Registration{LeastLatencyPolicy::kName, &MakeLeastLatency},
    Registration{SessionAffinityPolicy::kName, &Make<SessionAffinityPolicy>},
    Registration{ThroughputPolicy::kName, &Make<ThroughputPolicy>},
    // Baselines: other projects' policies, reimplemented for comparison.
    Registration{AibrixPrefixCachePolicy::kName, &Make<AibrixPrefixCachePolicy>},
    Registration{SglangCacheAwarePolicy::kName, &Make<SglangCacheAwarePolicy>},
    Registration{LlmDPolicy::kName, &Make<LlmDPolicy>},
    Registration{LeastLatencyPolicy::kOracleName, &MakeOracle},
};

Result<std::unique_ptr<Policy>> MakeSingle(std::string_view name, const PolicyOptions& options) {
  for (const Registration& r : kPolicies) {
    if (r.name == name) return r.make(options);
  }
  return InvalidArgument(fmt::format("unknown routing strategy \"{}\"; known: {}", name,
                                     fmt::join(PolicyNames(), ", ")));
}

// Candidates Route() keeps on the stack before it spills to the heap: the gateway's model sets
// are mostly smaller, and EndpointView is ~100 bytes.
constexpr size_t kInlineCandidates = 32;

bool Contains(std::span<const std::string> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Result<std::unique_ptr<Policy>> MakePolicy(std::string_view name, const PolicyOptions& options) {
  if (name.find_first_of(",:") == std::string_view::npos) return MakeSingle(name, options);
  Result<std::unique_ptr<WeightedPolicy>> weighted =
      WeightedPolicy::Parse(name, [&](std::string_view part) { return MakeSingle(part, options); });
  if (!weighted) return weighted.error();
  return std::unique_ptr<Policy>(std::move(*weighted));
}

std::vector<std::string_view> PolicyNames() {
  std::vector<std::string_view> names;
  names.reserve(kPolicies.size());
  for (const Registration& r : kPolicies) names.push_back(r.name);
  return names;
}

bool Serves(const EndpointView& endpoint, std::string_view model) {
  return Contains(endpoint.models, model) || Contains(endpoint.adapters, model);
}

Result<size_t> Route(Policy& policy, const RouteRequest& request,
                     std::span<const EndpointView> endpoints) {
  size_t serving = 0;
  size_t eligible = 0;
  for (const EndpointView& e : endpoints) {
    if (!Serves(e, request.model)) continue;
    ++serving;
    if (e.healthy) ++eligible;
  }
  if (serving == 0) {
    return NotFound(fmt::format("no endpoint serves model \"{}\"", request.model));
  }
  if (eligible == 0) {
    return Unavailable(fmt::format("none of the {} endpoint{} serving model \"{}\" is healthy",
                                   serving, serving == 1 ? "" : "s", request.model));
  }

  // The usual case: the snapshot holds only this model's endpoints and all are up. The policy
  // then picks among them directly, with no copy.
  if (eligible == endpoints.size()) {
    Result<size_t> pick = policy.Pick(request, endpoints);
    if (pick) {
      BRIX_CHECK(*pick < endpoints.size())
          << policy.name() << " picked " << *pick << " of " << endpoints.size();
      policy.Observe(request, endpoints[*pick]);
    }
    return pick;
  }

  internal::InlineVector<EndpointView, kInlineCandidates> candidates(eligible);
  internal::InlineVector<size_t, kInlineCandidates> index(eligible);
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const EndpointView& e = endpoints[i];
    if (e.healthy && Serves(e, request.model)) {
      candidates.push_back(e);
      index.push_back(i);
    }
  }
  Result<size_t> pick = policy.Pick(request, candidates.span());
  if (!pick) return pick;
  BRIX_CHECK(*pick < candidates.size())
      << policy.name() << " picked " << *pick << " of " << candidates.size();
  policy.Observe(request, candidates[*pick]);
  return index[*pick];
}

}  // namespace brix::router
