// `aibrix-prefix-cache`: a baseline, AIBrix's prefix-cache router with its shipped settings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "router/router.h"

namespace brix::router {

// Reimplemented from vllm-project/aibrix (commit e3e10f9e):
// pkg/plugins/gateway/algorithms/prefix_cache.go (routeOriginal, getTargetPodListOnLoadImbalance,
// getTargetPodFromMatchedPods), pkg/utils/prefixcacheindexer/hash.go (getPrefixHashes,
// seqSearchPrefix, AddPrefix) and the values config/gateway/gateway-plugin/gateway-plugin.yaml
// ships (block 128 bytes, imbalance 16, standard-deviation factor 2, 200,000 blocks, 20 min).
//
// Blocks: AIBrix hashes 128-byte blocks of the prompt's bytes; with its `tiktoken` tokenizer a
// token is 4 bytes, so a block is 32 token ids, which is what we hash (the chat text itself
// never reaches the router). A partial tail block is dropped. Chained: h_i = XXH3(block i,
// seed h_{i-1}) (AIBrix: xxhash64 over the previous hash's 8 bytes and the block).
// Index: one table for all pods, hash -> {pod -> last use}, LRU over hashes with 200,000
// entries and a 20-minute expiry; every routed request adds all its hashes for the pod it went
// to, whoever chose that pod. It never learns of engine evictions.
// Pick, with load = in_flight (AIBrix's realtime running-request count):
//  1. If max - min load over all candidates > 16, only the pods at the minimum may match.
//  2. Walk the hashes: the pods still allowed that hold block i go on; a pod's match is the
//     share of blocks it held before dropping out, floor(100 k / n) percent.
//  3. Matched pods, by match descending then load ascending (remaining ties random), and the
//     first whose load <= mean + 2 x sample standard deviation of all candidates' loads wins.
//  4. Otherwise least-request over all candidates.
// Score: the match percentage (higher is better), for weighted combinations.
class AibrixPrefixCachePolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "aibrix-prefix-cache";
  static constexpr size_t kBlockTokens = 32;
  static constexpr int64_t kImbalanceAbsCount = 16;
  static constexpr double kStdDevFactor = 2;
  static constexpr size_t kMaxBlocks = 200'000;
  static constexpr double kTtlSeconds = 20 * 60;

  std::string_view name() const override { return kName; }
  bool needs_tokens() const override { return true; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;
  bool can_score() const override { return true; }
  std::optional<Polarity> Score(const RouteRequest& request,
                                std::span<const EndpointView> candidates,
                                std::span<double> scores) override;
  void Observe(const RouteRequest& request, const EndpointView& chosen) override;

 private:
  struct Entry {
    std::map<std::string, double, std::less<>> pods;  // pod -> last use
    double last_s = 0;
    std::list<uint64_t>::iterator lru;
  };
  // Match percentage per candidate; `allowed[i]` false excludes candidate i.
  void Match(std::span<const uint64_t> hashes, std::span<const EndpointView> candidates,
             const std::vector<bool>& allowed, double now_s, std::span<int> percent);
  void Expire(double now_s);

  std::mutex mu_;
  std::unordered_map<uint64_t, Entry> table_;
  std::list<uint64_t> lru_;  // front = least recently added
};

}  // namespace brix::router
