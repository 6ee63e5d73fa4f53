// Weighted combinations of scoring policies, in AIBrix's syntax: `prefix-cache:2,least-request`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "router/router.h"

namespace brix::router {

// Each part scores every candidate (Policy::Score); the scores of one part are scaled to [0, 1]
// over the candidates by min-max (reversed when lower is better, so 1 is always best; a
// candidate the part cannot score gets 0; when all scored candidates are equal they all get 1),
// multiplied by weight / sum of weights and added up. The highest total wins; totals within
// 1e-9 of each other tie and RouteRequest::random picks among them.
//
// This is AIBrix's multi-strategy routing (pkg/plugins/gateway/algorithms/router.go:
// ParseMultiRouterConfig and the combined scorer): integer weights 0..1,000,000, default 1, a
// weight of 0 drops the part. AIBrix breaks ties by the first pod of its shuffled list; ours is
// the same draw-based tie-break as every other policy. Every part sees every request (Observe),
// so a prefix index learns whoever decided.
class WeightedPolicy final : public Policy {
 public:
  struct Part {
    std::unique_ptr<Policy> policy;
    uint32_t weight = 1;
  };

  // `spec` is "name[:weight],name[:weight],..." with at least one comma or colon. Errors
  // (InvalidArgument, naming the part): empty part, bad or out-of-range weight, a name twice, a
  // policy that cannot score, all weights 0. `make` builds a part from its name.
  static Result<std::unique_ptr<WeightedPolicy>> Parse(
      std::string_view spec,
      const std::function<Result<std::unique_ptr<Policy>>(std::string_view)>& make);

  explicit WeightedPolicy(std::string name, std::vector<Part> parts);

  std::string_view name() const override { return name_; }
  bool needs_tokens() const override;
  bool can_score() const override { return true; }
  Result<size_t> Pick(const RouteRequest& request,
                      std::span<const EndpointView> candidates) override;
  std::optional<Polarity> Score(const RouteRequest& request,
                                std::span<const EndpointView> candidates,
                                std::span<double> scores) override;
  void Observe(const RouteRequest& request, const EndpointView& chosen) override;

 private:
  std::string name_;
  std::vector<Part> parts_;
  uint64_t weight_sum_ = 0;
};

// Scales `scores` in place to [0, 1] with 1 best, as described above.
void NormalizeScores(Polarity polarity, std::span<double> scores);

}  // namespace brix::router
