// `prefix-cache`: send a prompt where its prefix is most likely cached, unless that endpoint is
// already much busier than the least busy one.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "router/prefix_index.h"
#include "router/router.h"

namespace brix::router {

// Needs the prompt's token ids. Blocks of `block_size` tokens are hashed in a chain
// (BlockHashes) and looked up in a PrefixIndex of where earlier prompts were sent; every routed
// request (Observe) is recorded for the endpoint it went to.
//
// Pick:
//  1. Load guard: only candidates with in_flight <= min + max(4, min / 2) may be chosen for their
//     cache (min = the fewest in flight among candidates). A hot prefix then spreads over more
//     endpoints as its load grows instead of queueing on the one that cached it first.
//  2. Among those, the most leading blocks matched wins; ties go to the fewest in flight, then
//     to RouteRequest::random.
//  3. Nothing matched anywhere: least-request over all candidates.
//
// Score (for weighted combinations): the fraction of the prompt's blocks matched, 0..1, higher
// is better; 0 for a prompt shorter than one block.
//
// Differences from AIBrix's prefix-cache (see aibrix_prefix_cache_policy.h): token ids, not
// bytes of the flattened chat text, so the blocks are the engine's prefix; the guard is relative
// to the least busy endpoint instead of a fixed spread; the index is per endpoint, bounded and
// prefix-closed, so a match is always a prefix.
class PrefixCachePolicy final : public Policy {
 public:
  static constexpr std::string_view kName = "prefix-cache";
  static constexpr size_t kBlockSize = 64;

  explicit PrefixCachePolicy(PrefixIndex::Options options = {}) : index_(options) {}

  std::string_view name() const override { return kName; }
  bool needs_tokens() const override { return true; }
  bool can_score() const override { return true; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;
  std::optional<Polarity> Score(const RouteRequest& request,
                                std::span<const EndpointView> candidates,
                                std::span<double> scores) override;
  void Observe(const RouteRequest& request, const EndpointView& chosen) override;

  const PrefixIndex& index() const { return index_; }

 private:
  PrefixIndex index_;
};

}  // namespace brix::router
