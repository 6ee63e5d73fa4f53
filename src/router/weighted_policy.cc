#include "router/weighted_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "base/check.h"
#include "router/internal/select.h"

namespace brix::router {
namespace {

constexpr uint32_t kMaxWeight = 1'000'000;
constexpr double kTieEpsilon = 1e-9;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

void NormalizeScores(Polarity polarity, std::span<double> scores) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  for (double s : scores) {
    if (std::isnan(s)) continue;
    lo = std::min(lo, s);
    hi = std::max(hi, s);
  }
  for (double& s : scores) {
    if (std::isnan(s)) {
      s = 0;
    } else if (hi == lo) {
      s = 1;
    } else {
      s = (s - lo) / (hi - lo);
      if (polarity == Polarity::kLowerIsBetter) s = 1 - s;
    }
  }
}

Result<std::unique_ptr<WeightedPolicy>> WeightedPolicy::Parse(
    std::string_view spec,
    const std::function<Result<std::unique_ptr<Policy>>(std::string_view)>& make) {
  std::vector<Part> parts;
  std::vector<std::string> names;
  std::string_view rest = spec;
  while (true) {
    const size_t comma = rest.find(',');
    std::string_view item = Trim(rest.substr(0, comma));
    if (item.empty()) {
      return InvalidArgument(fmt::format("routing strategy \"{}\": empty part", spec));
    }
    std::string_view name = item;
    uint32_t weight = 1;
    if (const size_t colon = item.find(':'); colon != std::string_view::npos) {
      name = Trim(item.substr(0, colon));
      const std::string_view w = Trim(item.substr(colon + 1));
      const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), weight);
      if (w.empty() || ec != std::errc() || end != w.data() + w.size() || weight > kMaxWeight) {
        return InvalidArgument(fmt::format(
            "routing strategy \"{}\": weight \"{}\" of \"{}\" is not an integer in [0, {}]", spec,
            w, name, kMaxWeight));
      }
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      return InvalidArgument(
          fmt::format("routing strategy \"{}\": \"{}\" appears twice", spec, name));
    }
    names.emplace_back(name);
    Result<std::unique_ptr<Policy>> policy = make(name);
    if (!policy) return policy.error();
    if (!(*policy)->can_score()) {
      return InvalidArgument(fmt::format(
          "routing strategy \"{}\": \"{}\" cannot be combined (it does not score endpoints)", spec,
          name));
    }
    if (weight > 0) parts.push_back({std::move(*policy), weight});
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (parts.empty()) {
    return InvalidArgument(fmt::format("routing strategy \"{}\": every weight is 0", spec));
  }
  return std::make_unique<WeightedPolicy>(std::string(spec), std::move(parts));
}

WeightedPolicy::WeightedPolicy(std::string name, std::vector<Part> parts)
    : name_(std::move(name)), parts_(std::move(parts)) {
  for (const Part& p : parts_) weight_sum_ += p.weight;
  BRIX_CHECK(weight_sum_ > 0) << "weights sum to 0";
}

bool WeightedPolicy::needs_tokens() const {
  return std::any_of(parts_.begin(), parts_.end(),
                     [](const Part& p) { return p.policy->needs_tokens(); });
}

std::optional<Polarity> WeightedPolicy::Score(const RouteRequest& request,
                                              std::span<const EndpointView> candidates,
                                              std::span<double> scores) {
  std::fill(scores.begin(), scores.end(), 0.0);
  std::vector<double> part(candidates.size());
  for (const Part& p : parts_) {
    std::fill(part.begin(), part.end(), std::numeric_limits<double>::quiet_NaN());
    const std::optional<Polarity> polarity = p.policy->Score(request, candidates, part);
    BRIX_CHECK(polarity.has_value()) << p.policy->name() << " stopped scoring";
    NormalizeScores(*polarity, part);
    const double w = static_cast<double>(p.weight) / static_cast<double>(weight_sum_);
    for (size_t i = 0; i < candidates.size(); ++i) scores[i] += w * part[i];
  }
  return Polarity::kHigherIsBetter;
}

Result<size_t> WeightedPolicy::Pick(const RouteRequest& request,
                                    std::span<const EndpointView> candidates) {
  BRIX_CHECK(!candidates.empty()) << "no candidates";
  std::vector<double> total(candidates.size());
  Score(request, candidates, total);
  return internal::MaxWithRandomTies(total, request.random, kTieEpsilon);
}

void WeightedPolicy::Observe(const RouteRequest& request, const EndpointView& chosen) {
  for (const Part& p : parts_) p.policy->Observe(request, chosen);
}

}  // namespace brix::router
