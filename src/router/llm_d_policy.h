// `llm-d`: a baseline, the default scorer mix of the Gateway API Inference Extension / llm-d
// endpoint picker (EPP).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "router/prefix_index.h"
#include "router/router.h"

namespace brix::router {

// Reimplemented from llm-d/llm-d-router (commit ebab6879), whose default plugins config
// (pkg/epp/config/loader/defaults.go, the Helm chart's default-plugins.yaml; GIE v1.5.0 has the
// same weights) is one profile without filters:
//   total = 2 x queue + 2 x kv-cache-utilization + 3 x prefix-cache, highest wins
// with the max-score picker (shuffled, so ties are random):
//  - queue-scorer (scorer/queuedepth/queue.go): (max - waiting) / (max - min) over the
//    candidates' scraped num_requests_waiting; all equal -> 1.
//  - kv-cache-utilization-scorer (scorer/kvcacheutilization): 1 - kv_cache_usage.
//  - prefix-cache-scorer (scorer/prefix/plugin.go, approximate producer
//    requestcontrol/dataproducer/approximateprefix): matched blocks / prompt blocks, blocks of
//    max(16, 64) = 64 tokens with the partial tail block hashed too, at most 2048 blocks; the
//    index is a per-pod LRU of 31,250 blocks, updated with every block of a request for the
//    pod it was sent to at pick time.
// A pod without a scrape yet counts as 0 waiting and 0 usage (what the EPP's empty metrics
// read as). The EPP refreshes metrics every 50 ms; the caller's scrape interval applies here.
// Differences: the EPP estimates tokens from 4 bytes of chat text per token; we hash the real
// token ids. The EPP credits a pod for every block it holds until a block nobody holds, even
// after a gap; ours counts each pod's leading run, which is the same whenever a pod's blocks
// are a prefix (our index keeps them so).
class LlmDPolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "llm-d";
  static constexpr size_t kBlockTokens = 64;
  static constexpr size_t kMaxBlocks = 2048;
  static constexpr size_t kLruBlocksPerPod = 31'250;
  static constexpr double kQueueWeight = 2;
  static constexpr double kKvWeight = 2;
  static constexpr double kPrefixWeight = 3;

  LlmDPolicy();

  std::string_view name() const override { return kName; }
  bool needs_tokens() const override { return true; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;
  bool can_score() const override { return true; }
  std::optional<Polarity> Score(const RouteRequest& request,
                                std::span<const EndpointView> candidates,
                                std::span<double> scores) override;
  void Observe(const RouteRequest& request, const EndpointView& chosen) override;

  // The blocks hashed for `ids`: full blocks, then the partial tail, at most kMaxBlocks.
  static void Hashes(std::span<const uint32_t> ids, std::vector<uint64_t>& out);

 private:
  PrefixIndex index_;
};

}  // namespace brix::router
