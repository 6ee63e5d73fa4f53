#include "router/prefix_cache_policy.h"

#include <algorithm>
#include <vector>

#include "base/check.h"
#include "router/internal/select.h"
#include "router/least_request_policy.h"

namespace brix::router {
namespace {

constexpr int64_t kGuardMinExtra = 4;

}  // namespace

Result<size_t> PrefixCachePolicy::Pick(const RouteRequest& request,
                                       std::span<const EndpointView> candidates) {
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  std::vector<uint64_t> hashes;
  BlockHashes(request.token_ids, kBlockSize, hashes);
  std::vector<size_t> matched(candidates.size());
  index_.Match(hashes, candidates, request.now_s, matched);

  int64_t min_in_flight = candidates[0].in_flight;
  size_t best_match = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    min_in_flight = std::min(min_in_flight, candidates[i].in_flight);
  }
  const int64_t limit = min_in_flight + std::max(kGuardMinExtra, min_in_flight / 2);
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i].in_flight <= limit) best_match = std::max(best_match, matched[i]);
  }
  if (best_match == 0) return PickLeastInFlight(request.random, candidates);
  // The most matched blocks among the guarded candidates; then the fewest in flight; then random.
  std::optional<size_t> pick =
      internal::MinWithRandomTies(candidates.size(), request.random, [&](size_t i) {
        if (candidates[i].in_flight > limit || matched[i] != best_match) {
          return std::optional<double>();
        }
        return std::optional<double>(static_cast<double>(candidates[i].in_flight));
      });
  BRIX_CHECK(pick.has_value());
  return *pick;
}

std::optional<Polarity> PrefixCachePolicy::Score(const RouteRequest& request,
                                                 std::span<const EndpointView> candidates,
                                                 std::span<double> scores) {
  std::vector<uint64_t> hashes;
  BlockHashes(request.token_ids, kBlockSize, hashes);
  std::vector<size_t> matched(candidates.size());
  index_.Match(hashes, candidates, request.now_s, matched);
  for (size_t i = 0; i < candidates.size(); ++i) {
    scores[i] =
        hashes.empty() ? 0.0 : static_cast<double>(matched[i]) / static_cast<double>(hashes.size());
  }
  return Polarity::kHigherIsBetter;
}

void PrefixCachePolicy::Observe(const RouteRequest& request, const EndpointView& chosen) {
  std::vector<uint64_t> hashes;
  BlockHashes(request.token_ids, kBlockSize, hashes);
  index_.Insert(hashes, chosen.name, request.now_s);
}

}  // namespace brix::router
