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
// Weight of the newest sample in an endpoint's average queue (~64 routing decisions).
constexpr double kQueueSmoothing = 1.0 / 64;
// brix's penalty weights (see the header).
constexpr double kWeightQueuedNow = 3;
constexpr double kWeightQueueAverage = 10;
constexpr double kWeightQueueAverageSquared = 10;
constexpr double kKvUsageSeconds = 0.5;
// Time constant of the engine's and the index's cache hit counts compared for calibration.
constexpr double kCalibrationSeconds = 60;
// Prompt tokens the engine must have reported before its hit fraction is trusted.
constexpr double kCalibrationMinTokens = 100000;
// Requests remembered per endpoint for the backlog: more than await a first token on one engine
// in practice (vLLM's default max_num_seqs is 256 in all).
constexpr size_t kRecentRouted = 256;

class LinearLatencyModel final : public LatencyModel {
 public:
  double PrefillSeconds(int64_t new_tokens, int64_t cached_tokens) const override {
    const double n = static_cast<double>(new_tokens);
    const double c = static_cast<double>(cached_tokens);
    return new_tokens <= 0 ? 0 : 6.5e-3 + 28e-6 * n + 1.0e-9 * n * (c + n / 2);
  }
  double DecodeStepSeconds(int64_t batch, int64_t context_tokens) const override {
    if (batch <= 0) return 0;
    return 6.6e-3 + 0.08e-3 * static_cast<double>(batch) +
           5e-8 * static_cast<double>(context_tokens);
  }
  int64_t StepTokenBudget() const override { return 8192; }
};

}  // namespace

std::shared_ptr<const LatencyModel> DefaultLatencyModel() {
  static const std::shared_ptr<const LatencyModel> model = std::make_shared<LinearLatencyModel>();
  return model;
}

LeastLatencyPolicy::LeastLatencyPolicy(std::string_view name, const PolicyOptions& options,
                                       Options mode)
    : name_(name),
      latency_(options.latency ? options.latency : DefaultLatencyModel()),
      mode_(mode) {}

void LeastLatencyPolicy::CachedTokens(const RouteRequest& request,
                                      std::span<const EndpointView> candidates,
                                      std::span<const uint64_t> hashes,
                                      std::span<int64_t> cached) const {
  if (mode_.oracle) {
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

std::optional<Polarity> LeastLatencyPolicy::Score(const RouteRequest& request,
                                                  std::span<const EndpointView> candidates,
                                                  std::span<double> scores) {
  const size_t n = candidates.size();
  std::vector<uint64_t> hashes;
  if (!mode_.oracle) BlockHashes(request.token_ids, kBlockSize, hashes);
  std::vector<int64_t> cached(n);
  CachedTokens(request, candidates, hashes, cached);
  const int64_t prompt = static_cast<int64_t>(request.token_ids.size());
  int64_t min_fresh = prompt;
  for (size_t i = 0; i < n; ++i) min_fresh = std::min(min_fresh, prompt - cached[i]);

  // Per endpoint: sample the queue, count the engine's cache hits, estimate the backlog.
  std::vector<double> backlog(n);
  std::vector<double> queue(n);
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < n; ++i) {
      auto it = state_.find(candidates[i].name);
      if (it == state_.end())
        it = state_.emplace(std::string(candidates[i].name), EndpointState{}).first;
      EndpointState& s = it->second;
      s.queue +=
          kQueueSmoothing * (static_cast<double>(candidates[i].awaiting_first_token) - s.queue);
      s.Decay(request.now_s);
      if (candidates[i].metrics != nullptr) s.Count(*candidates[i].metrics);
      backlog[i] = Backlog(s, candidates[i]);
      queue[i] = s.queue;
    }
  }

  for (size_t i = 0; i < n; ++i) {
    const EndpointView& e = candidates[i];
    const LatencyModel& model = e.latency != nullptr ? *e.latency : *latency_;
    const double budget = static_cast<double>(std::max<int64_t>(1, model.StepTokenBudget()));
    const int64_t fresh = std::max<int64_t>(0, prompt - cached[i]);
    const double work = backlog[i] + static_cast<double>(fresh);
    double score =
        model.PrefillSeconds(std::llround(work), cached[i]) +
        std::ceil(work / budget) * model.DecodeStepSeconds(e.in_flight, e.in_flight_tokens);
    if (mode_.miss_penalty) {
      const double extra = model.PrefillSeconds(fresh - min_fresh, cached[i]);
      score += (kWeightQueuedNow * static_cast<double>(e.awaiting_first_token) +
                kWeightQueueAverage * queue[i] + kWeightQueueAverageSquared * queue[i] * queue[i]) *
               extra;
      if (e.metrics != nullptr && e.metrics->kv_cache_usage) {
        score += kKvUsageSeconds * std::clamp(*e.metrics->kv_cache_usage, 0.0, 1.0);
      }
    }
    scores[i] = score;
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
  if (!mode_.oracle) BlockHashes(request.token_ids, kBlockSize, hashes);
  int64_t cached = 0;
  CachedTokens(request, one, hashes, std::span<int64_t>(&cached, 1));
  if (!mode_.oracle) index_.Insert(hashes, chosen.name, request.now_s);
  if (request.token_ids.empty()) return;
  const double fraction =
      static_cast<double>(cached) / static_cast<double>(request.token_ids.size());
  std::lock_guard lock(mu_);
  auto it = state_.find(chosen.name);
  if (it == state_.end()) it = state_.emplace(std::string(chosen.name), EndpointState{}).first;
  EndpointState& s = it->second;
  s.hit = s.seen ? s.hit + kHitSmoothing * (fraction - s.hit) : fraction;
  s.seen = true;
  const auto prompt = static_cast<int64_t>(request.token_ids.size());
  s.recent.push_back({prompt, std::min(cached, prompt)});
  s.Decay(request.now_s);
  s.predicted_queries += static_cast<double>(prompt);
  s.predicted_hits += static_cast<double>(std::min(cached, prompt));
  if (s.recent.size() > kRecentRouted) s.recent.pop_front();
}

void LeastLatencyPolicy::EndpointState::Decay(double now) {
  if (now <= decayed_at) return;
  const double keep = std::exp(-(now - decayed_at) / kCalibrationSeconds);
  engine_queries *= keep;
  engine_hits *= keep;
  predicted_queries *= keep;
  predicted_hits *= keep;
  decayed_at = now;
}

void LeastLatencyPolicy::EndpointState::Count(const EngineMetrics& m) {
  if (!m.prefix_cache_queries || !m.prefix_cache_hits) return;
  const double queries = *m.prefix_cache_queries;
  const double hits = *m.prefix_cache_hits;
  if (!std::isfinite(queries) || !std::isfinite(hits)) return;
  // Counters that went back belong to a restarted engine: start over from them.
  if (last_queries >= 0 && queries >= last_queries && hits >= last_hits) {
    engine_queries += queries - last_queries;
    engine_hits += hits - last_hits;
  }
  last_queries = queries;
  last_hits = hits;
}

double LeastLatencyPolicy::EndpointState::Calibration() const {
  if (engine_queries < kCalibrationMinTokens || predicted_queries <= 0 || predicted_hits <= 0) {
    return 1;
  }
  const double engine = engine_hits / engine_queries;
  const double predicted = predicted_hits / predicted_queries;
  const double ratio = engine / predicted;
  return std::isfinite(ratio) ? std::clamp(ratio, 0.0, 1.0) : 1;
}

double LeastLatencyPolicy::Backlog(const EndpointState& s, const EndpointView& e) {
  const double c = s.Calibration();
  // One long miss queued on an otherwise well-cached endpoint counts in full, where the
  // endpoint's average hit fraction would hide most of it.
  const auto awaiting = static_cast<size_t>(std::max<int64_t>(0, e.awaiting_first_token));
  const size_t known = std::min(s.recent.size(), awaiting);
  int64_t known_prompt = 0;
  double fresh = 0;
  for (size_t k = 0; k < known; ++k) {
    const Routed& r = s.recent[s.recent.size() - 1 - k];
    known_prompt += r.prompt;
    fresh += static_cast<double>(r.prompt) - static_cast<double>(r.cached) * c;
  }
  const int64_t rest = std::max<int64_t>(0, e.awaiting_prompt_tokens - known_prompt);
  return fresh + static_cast<double>(rest) * (1 - s.hit * c);
}

}  // namespace brix::router
