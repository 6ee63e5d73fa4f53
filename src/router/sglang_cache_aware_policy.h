// `sglang-cache-aware`: a baseline, the SGLang model gateway's cache_aware policy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "router/prefix_index.h"
#include "router/router.h"

namespace brix::router {

// Reimplemented from the SGLang router as it is today in lightseekorg/smg (commit 73da68ca;
// sgl-project/sglang sgl-router after PR #14650): model_gateway/src/policies/cache_aware.rs
// (select_worker), its radix tree tree.rs, and the command-line defaults in main.rs /
// router_args.py: cache_threshold 0.3, balance_abs_threshold 64, balance_rel_threshold 1.5,
// max_tree_size 2^26 characters per worker.
//
// Load is the router's own in-flight count per worker (in_flight here). Pick:
//  1. Imbalanced, when max - min > 64 and max > 1.5 x min: the least loaded worker.
//  2. Otherwise the worker whose tree holds the longest prefix of the prompt; if that prefix is
//     more than 0.3 of the prompt, it wins.
//  3. Otherwise (a cache miss) the least loaded worker. (Before PR #14650 a miss went to the
//     worker with the smallest tree; the current rule is the one deployments get.)
// Ties go to RouteRequest::random (SGLang: first in list or map order). Every pick inserts the
// prompt into the chosen worker's tree.
//
// Approximation: SGLang's tree is a radix tree over the request's characters; ours matches
// 64-token blocks of token ids (PrefixIndex), so a match is rounded down to 64 tokens, and the
// per-worker bound of 2^26 characters (~16M tokens at 4 characters per token) becomes 2^18
// blocks, without expiry. The cache threshold is a ratio, so it carries over unchanged.
class SglangCacheAwarePolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "sglang-cache-aware";
  static constexpr size_t kBlockTokens = 64;
  static constexpr double kCacheThreshold = 0.3;
  static constexpr int64_t kBalanceAbsThreshold = 64;
  static constexpr double kBalanceRelThreshold = 1.5;

  SglangCacheAwarePolicy();

  std::string_view name() const override { return kName; }
  bool needs_tokens() const override { return true; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;
  void Observe(const RouteRequest& request, const EndpointView& chosen) override;

 private:
  PrefixIndex index_;
};

}  // namespace brix::router
