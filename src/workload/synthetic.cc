#include "workload/synthetic.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "workload/trace.h"

namespace brix::workload {

namespace {

// Draws written out rather than std:: distributions, whose algorithms differ between standard
// libraries: the same seed must give the same workload everywhere.
double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double Exponential(std::mt19937_64& rng, double mean) {
  return -mean * std::log1p(-Uniform01(rng));
}

double Normal(std::mt19937_64& rng, double mean, double stddev) {
  // Box-Muller; u1 in (0, 1] so the log is finite.
  const double u1 = 1.0 - Uniform01(rng);
  const double u2 = Uniform01(rng);
  return mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

int64_t Clamp(double v) {
  if (!std::isfinite(v)) return 1;
  return std::clamp<int64_t>(std::llround(v), 1, kMaxTraceTokens);
}

Result<double> ParseCount(std::string_view text, std::string_view what, bool allow_zero) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v) ||
      v < (allow_zero ? 0 : 1) || v > static_cast<double>(kMaxTraceTokens)) {
    return InvalidArgument(fmt::format("{}: expected a number in [{}, {}], got '{}'", what,
                                       allow_zero ? 0 : 1, kMaxTraceTokens, text));
  }
  return v;
}

}  // namespace

int64_t Distribution::Draw(std::mt19937_64& rng) const {
  switch (kind) {
    case Kind::kFixed:
      return Clamp(a);
    case Kind::kUniform:
      return Clamp(a + std::floor(Uniform01(rng) * (Clamp(b) - Clamp(a) + 1)));
    case Kind::kNormal:
      return Clamp(Normal(rng, a, b));
    case Kind::kExponential:
      return Clamp(Exponential(rng, a));
  }
  return 1;
}

double Distribution::Mean() const {
  switch (kind) {
    case Kind::kFixed:
    case Kind::kNormal:
    case Kind::kExponential:
      return a;
    case Kind::kUniform:
      return (a + b) / 2;
  }
  return a;
}

std::string Distribution::ToString() const {
  switch (kind) {
    case Kind::kFixed:
      return fmt::format("{}", a);
    case Kind::kUniform:
      return fmt::format("uniform:{}:{}", a, b);
    case Kind::kNormal:
      return fmt::format("normal:{}:{}", a, b);
    case Kind::kExponential:
      return fmt::format("exponential:{}", a);
  }
  return "?";
}

Result<Distribution> ParseDistribution(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t colon = text.find(':', start);
    parts.push_back(text.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  auto usage = [&] {
    return InvalidArgument(fmt::format(
        "'{}': expected N, uniform:LO:HI, normal:MEAN:STDDEV or exponential:MEAN", text));
  };
  Distribution d;
  if (parts.size() == 1) {
    Result<double> v = ParseCount(parts[0], "fixed length", false);
    if (!v) return v.error();
    d.kind = Distribution::Kind::kFixed;
    d.a = *v;
    return d;
  }
  if (parts[0] == "uniform" && parts.size() == 3) {
    Result<double> lo = ParseCount(parts[1], "uniform low", false);
    if (!lo) return lo.error();
    Result<double> hi = ParseCount(parts[2], "uniform high", false);
    if (!hi) return hi.error();
    if (*hi < *lo) return InvalidArgument(fmt::format("'{}': high is below low", text));
    d.kind = Distribution::Kind::kUniform;
    d.a = *lo;
    d.b = *hi;
    return d;
  }
  if (parts[0] == "normal" && parts.size() == 3) {
    Result<double> mean = ParseCount(parts[1], "normal mean", false);
    if (!mean) return mean.error();
    Result<double> stddev = ParseCount(parts[2], "normal stddev", true);
    if (!stddev) return stddev.error();
    d.kind = Distribution::Kind::kNormal;
    d.a = *mean;
    d.b = *stddev;
    return d;
  }
  if (parts[0] == "exponential" && parts.size() == 2) {
    Result<double> mean = ParseCount(parts[1], "exponential mean", false);
    if (!mean) return mean.error();
    d.kind = Distribution::Kind::kExponential;
    d.a = *mean;
    return d;
  }
  return usage();
}

Result<Arrival> ParseArrival(std::string_view text) {
  if (text == "poisson") return Arrival::kPoisson;
  if (text == "constant") return Arrival::kConstant;
  return InvalidArgument(fmt::format("arrival '{}': expected poisson or constant", text));
}

Result<Workload> GenerateSynthetic(const SyntheticSpec& spec) {
  if (!(spec.rate > 0) || !std::isfinite(spec.rate) || spec.rate > 1e6) {
    return InvalidArgument(fmt::format("rate: expected (0, 1e6] sessions/s, got {}", spec.rate));
  }
  if (!(spec.duration_s > 0) || !std::isfinite(spec.duration_s)) {
    return InvalidArgument(fmt::format("duration: expected > 0 s, got {}", spec.duration_s));
  }
  if (spec.rate * spec.duration_s > 1e8) {
    return InvalidArgument("rate x duration: more than 100 million sessions");
  }
  if (spec.turns < 1 || spec.turns > 10000) {
    return InvalidArgument(fmt::format("turns: expected [1, 10000], got {}", spec.turns));
  }
  if (spec.rate * spec.duration_s * spec.turns > 1e7) {
    return InvalidArgument(fmt::format(
        "rate x duration x turns: about {:.0f} requests, more than the 10 million one run may hold",
        spec.rate * spec.duration_s * spec.turns));
  }
  if (spec.prefix_groups < 0) return InvalidArgument("prefix groups: expected >= 0");
  if (spec.prefix_groups > 0 && (spec.prefix_tokens < 1 || spec.prefix_tokens > kMaxTraceTokens)) {
    return InvalidArgument(fmt::format("prefix tokens: expected [1, {}] with prefix groups, got {}",
                                       kMaxTraceTokens, spec.prefix_tokens));
  }
  if (!(spec.think_s >= 0) || !std::isfinite(spec.think_s)) {
    return InvalidArgument("think time: expected >= 0");
  }

  std::mt19937_64 rng(spec.seed);
  Workload workload;
  uint64_t unique = 0;
  double t = 0;
  while (true) {
    if (spec.max_sessions > 0 && workload.sessions.size() >= spec.max_sessions) break;
    if (spec.arrival == Arrival::kPoisson) {
      t += Exponential(rng, 1.0 / spec.rate);
    } else {
      t = static_cast<double>(workload.sessions.size()) / spec.rate;
    }
    if (t >= spec.duration_s) break;
    Session session;
    session.id = workload.sessions.size();
    session.start_s = t;
    session.think_s = spec.think_s;
    std::optional<int> group;
    if (spec.prefix_groups > 0) {
      group =
          std::min(spec.prefix_groups - 1, static_cast<int>(Uniform01(rng) * spec.prefix_groups));
    }
    for (int i = 0; i < spec.turns; ++i) {
      Turn turn;
      if (i == 0 && group) {
        turn.prompt.push_back(
            {MakeKey(KeySpace::kSharedPrefix, static_cast<uint64_t>(*group)), spec.prefix_tokens});
      }
      turn.prompt.push_back({MakeKey(KeySpace::kUnique, unique++), spec.input.Draw(rng)});
      turn.output_tokens = spec.output.Draw(rng);
      session.turns.push_back(std::move(turn));
    }
    workload.sessions.push_back(std::move(session));
  }
  workload.description = fmt::format(
      "synthetic: {} arrivals at {}/s for {} s, input {}, output {}{}{} ({} sessions, seed {})",
      spec.arrival == Arrival::kPoisson ? "poisson" : "constant", spec.rate, spec.duration_s,
      spec.input.ToString(), spec.output.ToString(),
      spec.prefix_groups > 0
          ? fmt::format(", {} prefix groups of {} tokens", spec.prefix_groups, spec.prefix_tokens)
          : "",
      spec.turns > 1 ? fmt::format(", {} turns with {} s think time", spec.turns, spec.think_s)
                     : "",
      workload.sessions.size(), spec.seed);
  return workload;
}

}  // namespace brix::workload
