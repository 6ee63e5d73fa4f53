#include "router/aibrix_prefix_cache_policy.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/check.h"
#include "router/internal/select.h"
#include "router/least_request_policy.h"
#include "router/prefix_index.h"

namespace brix::router {

void AibrixPrefixCachePolicy::Expire(double now_s) {
  // The LRU order is by last add, so expired entries are at the front.
  while (!lru_.empty()) {
    auto it = table_.find(lru_.front());
    if (now_s - it->second.last_s <= kTtlSeconds) break;
    table_.erase(it);
    lru_.pop_front();
  }
}

void AibrixPrefixCachePolicy::Match(std::span<const uint64_t> hashes,
                                    std::span<const EndpointView> candidates,
                                    const std::vector<bool>& allowed, double now_s,
                                    std::span<int> percent) {
  std::fill(percent.begin(), percent.end(), 0);
  if (hashes.empty()) return;
  std::lock_guard lock(mu_);
  Expire(now_s);
  std::vector<bool> alive = allowed;
  const size_t n = hashes.size();
  for (size_t i = 0; i < n; ++i) {
    auto it = table_.find(hashes[i]);
    bool any = false;
    for (size_t c = 0; c < candidates.size(); ++c) {
      if (!alive[c]) continue;
      if (it == table_.end() || !it->second.pods.contains(candidates[c].name)) {
        alive[c] = false;
        continue;
      }
      any = true;
      percent[c] = static_cast<int>((i + 1) * 100 / n);
    }
    if (!any) break;
  }
}

Result<size_t> AibrixPrefixCachePolicy::Pick(const RouteRequest& request,
                                             std::span<const EndpointView> candidates) {
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  const size_t n = candidates.size();
  int64_t lo = candidates[0].in_flight;
  int64_t hi = lo;
  double sum = 0;
  for (const EndpointView& e : candidates) {
    lo = std::min(lo, e.in_flight);
    hi = std::max(hi, e.in_flight);
    sum += static_cast<double>(e.in_flight);
  }
  const double mean = sum / static_cast<double>(n);
  double var = 0;
  for (const EndpointView& e : candidates) {
    var += (static_cast<double>(e.in_flight) - mean) * (static_cast<double>(e.in_flight) - mean);
  }
  const double stddev = n > 1 ? std::sqrt(var / static_cast<double>(n - 1)) : 0;

  std::vector<bool> allowed(n, true);
  if (hi - lo > kImbalanceAbsCount) {
    for (size_t i = 0; i < n; ++i) allowed[i] = candidates[i].in_flight == lo;
  }
  std::vector<uint64_t> hashes;
  BlockHashes(request.token_ids, kBlockTokens, hashes);
  std::vector<int> percent(n);
  Match(hashes, candidates, allowed, request.now_s, percent);

  // Order matched pods by (percent desc, load asc); AIBrix shuffles first so that the remaining
  // ties are random: rotate the start by the request's draw for the same effect.
  std::vector<size_t> order;
  for (size_t i = 0; i < n; ++i) {
    if (percent[i] > 0) order.push_back(i);
  }
  if (!order.empty()) {
    std::rotate(order.begin(),
                order.begin() +
                    static_cast<ptrdiff_t>(internal::UniformIndex(request.random, order.size())),
                order.end());
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      if (percent[a] != percent[b]) return percent[a] > percent[b];
      return candidates[a].in_flight < candidates[b].in_flight;
    });
    for (size_t i : order) {
      if (static_cast<double>(candidates[i].in_flight) <= mean + kStdDevFactor * stddev) return i;
    }
  }
  return PickLeastInFlight(request.random, candidates);
}

std::optional<Polarity> AibrixPrefixCachePolicy::Score(const RouteRequest& request,
                                                       std::span<const EndpointView> candidates,
                                                       std::span<double> scores) {
  std::vector<uint64_t> hashes;
  BlockHashes(request.token_ids, kBlockTokens, hashes);
  std::vector<int> percent(candidates.size());
  Match(hashes, candidates, std::vector<bool>(candidates.size(), true), request.now_s, percent);
  for (size_t i = 0; i < candidates.size(); ++i) scores[i] = percent[i];
  return Polarity::kHigherIsBetter;
}

void AibrixPrefixCachePolicy::Observe(const RouteRequest& request, const EndpointView& chosen) {
  std::vector<uint64_t> hashes;
  BlockHashes(request.token_ids, kBlockTokens, hashes);
  std::lock_guard lock(mu_);
  Expire(request.now_s);
  for (uint64_t h : hashes) {
    auto [it, added] = table_.try_emplace(h);
    Entry& e = it->second;
    if (added) {
      lru_.push_back(h);
    } else {
      lru_.splice(lru_.end(), lru_, e.lru);
    }
    e.lru = std::prev(lru_.end());
    e.last_s = request.now_s;
    e.pods.insert_or_assign(std::string(chosen.name), request.now_s);
  }
  while (table_.size() > kMaxBlocks) {
    table_.erase(lru_.front());
    lru_.pop_front();
  }
}

}  // namespace brix::router
