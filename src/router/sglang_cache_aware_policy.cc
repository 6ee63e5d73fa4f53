#include "router/sglang_cache_aware_policy.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "base/check.h"
#include "router/internal/select.h"
#include "router/least_request_policy.h"

namespace brix::router {

SglangCacheAwarePolicy::SglangCacheAwarePolicy()
    : index_(PrefixIndex::Options{.capacity_blocks = size_t{1} << 18,
                                  .ttl_s = std::numeric_limits<double>::infinity()}) {}

Result<size_t> SglangCacheAwarePolicy::Pick(const RouteRequest& request,
                                            std::span<const EndpointView> candidates) {
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  int64_t lo = candidates[0].in_flight;
  int64_t hi = lo;
  for (const EndpointView& e : candidates) {
    lo = std::min(lo, e.in_flight);
    hi = std::max(hi, e.in_flight);
  }
  if (hi - lo > kBalanceAbsThreshold &&
      static_cast<double>(hi) > static_cast<double>(lo) * kBalanceRelThreshold) {
    return PickLeastInFlight(request.random, candidates);
  }
  std::vector<uint64_t> hashes;
  BlockHashes(request.token_ids, kBlockTokens, hashes);
  std::vector<size_t> matched(candidates.size());
  index_.Match(hashes, candidates, request.now_s, matched);
  const size_t best = *std::max_element(matched.begin(), matched.end());
  const double ratio = request.token_ids.empty()
                           ? 0.0
                           : static_cast<double>(best * kBlockTokens) /
                                 static_cast<double>(request.token_ids.size());
  if (best == 0 || ratio <= kCacheThreshold) return PickLeastInFlight(request.random, candidates);
  std::optional<size_t> pick =
      internal::MinWithRandomTies(candidates.size(), request.random, [&](size_t i) {
        return matched[i] == best ? std::optional<double>(0.0) : std::optional<double>();
      });
  BRIX_CHECK(pick.has_value());
  return *pick;
}

void SglangCacheAwarePolicy::Observe(const RouteRequest& request, const EndpointView& chosen) {
  std::vector<uint64_t> hashes;
  BlockHashes(request.token_ids, kBlockTokens, hashes);
  index_.Insert(hashes, chosen.name, request.now_s);
}

}  // namespace brix::router
