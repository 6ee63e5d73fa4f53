// `round-robin`: candidates in turn.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "router/router.h"

namespace brix::router {

// The k-th Pick() of this policy, counted over all threads, returns k mod n, n being the number
// of candidates of that call. While the candidate set stays the same every candidate gets an
// equal share, to within one, of any run of picks; when it changes, the rotation goes on from
// the same counter over the new set. Candidates are taken in the order of the caller's
// snapshot, which the caller keeps stable.
//
// One counter per object, shared by every model and thread that uses it.
// Thread-safe: the counter is one relaxed atomic increment, so concurrent picks never get the
// same turn. Ignores RouteRequest::random.
//
// vLLM production-stack's RoundRobinRouter (src/vllm_router/routers/routing_logic.py) also
// keeps a request counter and takes it modulo the endpoint count, over endpoints sorted by URL.
class RoundRobinPolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "round-robin";

  std::string_view name() const override { return kName; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;

 private:
  std::atomic<uint64_t> next_{0};
};

}  // namespace brix::router
