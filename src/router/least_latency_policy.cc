#include "router/least_latency_policy.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/check.h"
#include "router/internal/select.h"

namespace brix::router {
namespace {

// Weight of the newest request in an endpoint's cached-fraction average (~32 requests).
constexpr double kHitSmoothing = 1.0 / 32;

class LinearLatencyModel final : public LatencyModel {
 public:
  double PrefillSeconds(int64_t new_tokens, int64_t cached_tokens) const override {
    const double n = static_cast<double>(new_tokens);
    const double c = static_cast<double>(cached_tokens);
    return 6.5e-3 + 28e-6 * n + 1.0e-9 * n * (c + n / 2);
  }
  double DecodeStepSeconds(int64_t batch) const override {
    return 6.6e-3 + 0.08e-3 * static_cast<double>(batch);
  }
  int64_t StepTokenBudget() const override { return 8192; }
};

}  // namespace

std::shared_ptr<const LatencyModel> DefaultLatencyModel() {
  static const std::shared_ptr<const LatencyModel> model = std::make_shared<LinearLatencyModel>();
  return model;
}

LeastLatencyPolicy::LeastLatencyPolicy(std::string_view name, const PolicyOptions& options,
                                       Cache cache)
    : name_(name),
      latency_(options.latency ? options.latency : DefaultLatencyModel()),
      cache_(cache) {}

void LeastLatencyPolicy::CachedTokens(const RouteRequest& request,
                                      std::span<const EndpointView> candidates,
                                      std::span<const uint64_t> hashes,
                                      std::span<int64_t> cached) const {
  if (cache_ == Cache::kOracle) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      const CacheProbe* probe = candidates[i].cache;
      cached[i] = probe != nullptr ? probe->CachedPrefixTokens(request.token_ids) : 0;
    }
    return;
  }
  std::vector<size_t> matched(candidates.size());
  index_.Match(hashes, candidates, request.now_s, matched);
  for (size_t i = 0; i < candidates.size(); ++i) {
    cached[i] = static_cast<int64_t>(matched[i] * kBlockSize);
  }
}

double LeastLatencyPolicy::HitFraction(std::string_view endpoint) const {
  std::lock_guard lock(mu_);
  auto it = hit_.find(endpoint);
  return it == hit_.end() ? 0.0 : it->second;
}

std::optional<Polarity> LeastLatencyPolicy::Score(const RouteRequest& request,
                                                  std::span<const EndpointView> candidates,
                                                  std::span<double> scores) {
  std::vector<uint64_t> hashes;
  if (cache_ == Cache::kIndex) BlockHashes(request.token_ids, kBlockSize, hashes);
  std::vector<int64_t> cached(candidates.size());
  CachedTokens(request, candidates, hashes, cached);
  const int64_t prompt = static_cast<int64_t>(request.token_ids.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    const EndpointView& e = candidates[i];
    const LatencyModel& model = e.latency != nullptr ? *e.latency : *latency_;
    const double budget = static_cast<double>(std::max<int64_t>(1, model.StepTokenBudget()));
    const int64_t fresh = std::max<int64_t>(0, prompt - cached[i]);
    const double backlog = static_cast<double>(std::max<int64_t>(0, e.in_flight_prompt_tokens)) *
                           (1 - HitFraction(e.name));
    const double work = backlog + static_cast<double>(fresh);
    scores[i] = model.PrefillSeconds(std::llround(work), cached[i]) +
                std::ceil(work / budget) * model.DecodeStepSeconds(e.in_flight);
  }
  return Polarity::kLowerIsBetter;
}

Result<size_t> LeastLatencyPolicy::Pick(const RouteRequest& request,
                                        std::span<const EndpointView> candidates) {
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  std::vector<double> ttft(candidates.size());
  Score(request, candidates, ttft);
  std::optional<size_t> pick = internal::MinWithRandomTies(
      candidates.size(), request.random, [&](size_t i) { return std::optional<double>(ttft[i]); });
  BRIX_CHECK(pick.has_value());
  return *pick;
}

void LeastLatencyPolicy::Observe(const RouteRequest& request, const EndpointView& chosen) {
  const std::span<const EndpointView> one(&chosen, 1);
  std::vector<uint64_t> hashes;
  if (cache_ == Cache::kIndex) BlockHashes(request.token_ids, kBlockSize, hashes);
  int64_t cached = 0;
  CachedTokens(request, one, hashes, std::span<int64_t>(&cached, 1));
  if (cache_ == Cache::kIndex) index_.Insert(hashes, chosen.name, request.now_s);
  if (request.token_ids.empty()) return;
  const double fraction =
      static_cast<double>(cached) / static_cast<double>(request.token_ids.size());
  std::lock_guard lock(mu_);
  auto it = hit_.find(chosen.name);
  if (it == hit_.end()) {
    hit_.emplace(std::string(chosen.name), fraction);
  } else {
    it->second += kHitSmoothing * (fraction - it->second);
  }
}

}  // namespace brix::router
