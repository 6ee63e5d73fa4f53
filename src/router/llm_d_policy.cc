#include "router/llm_d_policy.h"

#include <xxhash.h>

#include <algorithm>
#include <limits>

#include "base/check.h"
#include "router/internal/select.h"

namespace brix::router {

LlmDPolicy::LlmDPolicy()
    : index_(PrefixIndex::Options{.capacity_blocks = kLruBlocksPerPod,
                                  .ttl_s = std::numeric_limits<double>::infinity()}) {}

void LlmDPolicy::Hashes(std::span<const uint32_t> ids, std::vector<uint64_t>& out) {
  const std::span<const uint32_t> head = ids.first(std::min(ids.size(), kMaxBlocks * kBlockTokens));
  BlockHashes(head, kBlockTokens, out);
  const size_t tail = head.size() % kBlockTokens;
  if (tail > 0 && out.size() < kMaxBlocks) {
    const uint64_t parent = out.empty() ? kPrefixHashSeed : out.back();
    out.push_back(XXH3_64bits_withSeed(&head[head.size() - tail], tail * sizeof(uint32_t), parent));
  }
}

std::optional<Polarity> LlmDPolicy::Score(const RouteRequest& request,
                                          std::span<const EndpointView> candidates,
                                          std::span<double> scores) {
  const size_t n = candidates.size();
  std::vector<uint64_t> hashes;
  Hashes(request.token_ids, hashes);
  std::vector<size_t> matched(n);
  index_.Match(hashes, candidates, request.now_s, matched);
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  auto waiting = [&](size_t i) {
    const EngineMetrics* m = candidates[i].metrics;
    return m != nullptr ? m->waiting.value_or(0) : 0.0;
  };
  for (size_t i = 0; i < n; ++i) {
    lo = std::min(lo, waiting(i));
    hi = std::max(hi, waiting(i));
  }
  for (size_t i = 0; i < n; ++i) {
    const EngineMetrics* m = candidates[i].metrics;
    const double queue = hi == lo ? 1.0 : (hi - waiting(i)) / (hi - lo);
    const double usage = m != nullptr ? m->kv_cache_usage.value_or(0) : 0.0;
    const double kv = std::clamp(1 - usage, 0.0, 1.0);
    const double prefix =
        hashes.empty() ? 0.0 : static_cast<double>(matched[i]) / static_cast<double>(hashes.size());
    scores[i] = kQueueWeight * queue + kKvWeight * kv + kPrefixWeight * prefix;
  }
  return Polarity::kHigherIsBetter;
}

Result<size_t> LlmDPolicy::Pick(const RouteRequest& request,
                                std::span<const EndpointView> candidates) {
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  std::vector<double> total(candidates.size());
  Score(request, candidates, total);
  return internal::MaxWithRandomTies(total, request.random);
}

void LlmDPolicy::Observe(const RouteRequest& request, const EndpointView& chosen) {
  std::vector<uint64_t> hashes;
  Hashes(request.token_ids, hashes);
  index_.Insert(hashes, chosen.name, request.now_s);
}

}  // namespace brix::router
