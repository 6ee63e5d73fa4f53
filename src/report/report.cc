#include "report/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <cmath>

#include "base/check.h"

namespace brix::report {

namespace {

// Nearest-rank percentiles of `values` (sorted here).
Distribution Describe(std::vector<double> values) {
  Distribution d;
  d.count = values.size();
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (double v : values) sum += v;
  d.mean = sum / static_cast<double>(values.size());
  auto rank = [&](double q) {
    const size_t r = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::clamp<size_t>(r, 1, values.size()) - 1];
  };
  d.p50 = rank(0.50);
  d.p90 = rank(0.90);
  d.p99 = rank(0.99);
  d.p999 = rank(0.999);
  d.max = values.back();
  return d;
}

Distribution Describe(const LatencyHistogram& h) {
  Distribution d;
  d.count = h.count();
  d.mean = h.mean();
  d.p50 = h.Quantile(0.50);
  d.p90 = h.Quantile(0.90);
  d.p99 = h.Quantile(0.99);
  d.p999 = h.Quantile(0.999);
  d.max = h.max();
  return d;
}

// A number for JSON: non-finite values (an empty engine histogram's quantiles) become null,
// which JSON can carry, instead of NaN, which it cannot.
boost::json::value Num(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

std::string Ms(double seconds) {
  if (!std::isfinite(seconds)) return "-";
  const double ms = seconds * 1000;
  if (ms >= 100) return fmt::format("{:.0f}", ms);
  if (ms >= 10) return fmt::format("{:.1f}", ms);
  return fmt::format("{:.2f}", ms);
}

boost::json::object DistributionJson(const Distribution& d) {
  boost::json::object o;
  o["count"] = d.count;
  o["mean"] = Num(d.mean * 1000);
  o["p50"] = Num(d.p50 * 1000);
  o["p90"] = Num(d.p90 * 1000);
  o["p99"] = Num(d.p99 * 1000);
  o["p99.9"] = Num(d.p999 * 1000);
  o["max"] = Num(d.max * 1000);
  return o;
}

std::string SecondsText(double s) {
  return s < 1 ? fmt::format("{}ms", s * 1000) : fmt::format("{}s", s);
}

}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kAborted:
      return "aborted";
    case Outcome::kNotSent:
      return "not_sent";
  }
  return "?";
}

double RequestRecord::tpot_s() const {
  if (output_tokens < 2 || first_token_s < 0 || end_s < first_token_s) return 0;
  return (end_s - first_token_s) / static_cast<double>(output_tokens - 1);
}

bool Slo::Met(const RequestRecord& r) const {
  if (r.outcome != Outcome::kOk) return false;
  if (ttft_s && !(r.first_token_s >= 0 && r.ttft_s() <= *ttft_s)) return false;
  if (itl_s && r.tpot_s() > *itl_s) return false;
  if (e2e_s && r.e2e_s() > *e2e_s) return false;
  return true;
}

std::string Slo::ToString() const {
  std::string out;
  auto add = [&](std::string_view name, const std::optional<double>& bound) {
    if (!bound) return;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}<={}", name, SecondsText(*bound));
  };
  add("ttft", ttft_s);
  add("itl", itl_s);
  add("e2e", e2e_s);
  return out.empty() ? "none" : out;
}

Summary Summarize(std::span<const RequestRecord> records, const LatencyHistogram& itl,
                  const Slo& slo) {
  Summary s;
  s.slo = slo;
  s.scheduled = records.size();
  std::vector<double> ttft, tpot, e2e, lag;
  double first_send = INFINITY, last_end = 0;
  for (const RequestRecord& r : records) {
    BRIX_CHECK((r.outcome == Outcome::kNotSent) == (r.sent_s < 0));
    switch (r.outcome) {
      case Outcome::kOk:
        ++s.ok;
        break;
      case Outcome::kFailed:
        ++s.failed;
        ++s.errors[r.error.empty() ? "unknown" : r.error];
        break;
      case Outcome::kAborted:
        ++s.aborted;
        break;
      case Outcome::kNotSent:
        ++s.not_sent;
        continue;
    }
    ++s.sent;
    first_send = std::min(first_send, r.sent_s);
    last_end = std::max(last_end, std::max(r.end_s, r.sent_s));
    const double l = std::max(0.0, r.sent_s - r.scheduled_s);
    lag.push_back(l);
    if (l > kLateSeconds) ++s.late;
    if (r.outcome == Outcome::kAborted) continue;
    if (r.attempts > 1) ++s.retried;
    if (!r.replica.empty()) ++s.replicas[r.replica];
    if (r.outcome != Outcome::kOk) continue;
    if (r.first_token_s >= 0) ttft.push_back(r.ttft_s());
    if (r.output_tokens >= 2) tpot.push_back(r.tpot_s());
    e2e.push_back(r.e2e_s());
    s.input_tokens += r.input_tokens;
    s.output_tokens += r.output_tokens;
    if (slo.Met(r)) ++s.good;
  }
  BRIX_CHECK(s.sent == s.ok + s.failed + s.aborted);
  BRIX_CHECK(s.scheduled == s.sent + s.not_sent);
  s.ttft_s = Describe(std::move(ttft));
  s.tpot_s = Describe(std::move(tpot));
  s.e2e_s = Describe(std::move(e2e));
  s.itl_s = Describe(itl);
  s.lag_s = Describe(std::move(lag));
  s.fell_behind = s.sent > 0 && static_cast<double>(s.late) > 0.01 * static_cast<double>(s.sent);
  if (s.sent > 0) s.duration_s = std::max(0.0, last_end - first_send);
  if (s.duration_s > 0) {
    s.request_rate = static_cast<double>(s.ok) / s.duration_s;
    s.input_token_rate = static_cast<double>(s.input_tokens) / s.duration_s;
    s.output_token_rate = static_cast<double>(s.output_tokens) / s.duration_s;
    s.goodput = static_cast<double>(s.good) / s.duration_s;
  }

  // Peak concurrency: a sweep over send (+1) and end (-1) events, ends first on ties.
  {
    std::vector<std::pair<double, int>> events;
    for (const RequestRecord& r : records) {
      if (r.outcome == Outcome::kNotSent) continue;
      events.emplace_back(r.sent_s, +1);
      events.emplace_back(std::max(r.end_s, r.sent_s), -1);
    }
    std::sort(events.begin(), events.end());
    int64_t open = 0;
    for (const auto& [t, delta] : events) {
      open += delta;
      s.peak_in_flight =
          std::max(s.peak_in_flight, static_cast<size_t>(std::max<int64_t>(open, 0)));
    }
  }

  // Timeline: at most ~200 buckets of a whole number of seconds (or 0.1 s for short runs).
  if (s.sent > 0) {
    const double span = std::max(last_end, 1e-3);
    double width = span <= 20 ? 0.1 : std::ceil(span / 200);
    if (span / width > 400) width = span / 200;
    const size_t n = static_cast<size_t>(std::floor(span / width)) + 1;
    s.timeline.resize(n);
    std::vector<std::vector<double>> bucket_ttft(n);
    for (size_t i = 0; i < n; ++i) s.timeline[i].start_s = static_cast<double>(i) * width;
    auto index = [&](double t) {
      return std::min(n - 1, static_cast<size_t>(std::max(0.0, t) / width));
    };
    for (const RequestRecord& r : records) {
      if (r.outcome == Outcome::kNotSent) continue;
      const size_t sent = index(r.sent_s);
      ++s.timeline[sent].sent;
      if (r.outcome == Outcome::kFailed) ++s.timeline[index(r.end_s)].failed;
      if (r.outcome != Outcome::kOk) continue;
      ++s.timeline[index(r.end_s)].completed;
      if (r.first_token_s >= 0) bucket_ttft[sent].push_back(r.ttft_s());
      // Output tokens spread over [first token, end], by overlap with each bucket.
      const double a = r.first_token_s >= 0 ? r.first_token_s : r.end_s;
      const double b = r.end_s;
      if (b - a < 1e-9) {
        s.timeline[index(b)].output_tokens += static_cast<double>(r.output_tokens);
        continue;
      }
      for (size_t i = index(a); i <= index(b); ++i) {
        const double lo = std::max(a, s.timeline[i].start_s);
        const double hi = std::min(b, s.timeline[i].start_s + width);
        if (hi > lo)
          s.timeline[i].output_tokens += static_cast<double>(r.output_tokens) * (hi - lo) / (b - a);
      }
    }
    for (size_t i = 0; i < n; ++i)
      s.timeline[i].ttft_p50_s = Describe(std::move(bucket_ttft[i])).p50;
  }
  return s;
}

std::string FormatTable(const Summary& s) {
  std::string out;
  if (!s.workload.empty()) out += fmt::format("workload   {}\n", s.workload);
  if (!s.target.empty()) out += fmt::format("target     {}\n", s.target);
  out += fmt::format(
      "requests   {} scheduled: {} sent = {} ok + {} failed + {} aborted; {} not sent{}\n",
      s.scheduled, s.sent, s.ok, s.failed, s.aborted, s.not_sent,
      s.interrupted ? " (interrupted)" : "");
  for (const auto& [reason, count] : s.errors)
    out += fmt::format("  failed   {:>6}  {}\n", count, reason);
  if (s.retried > 0)
    out += fmt::format("retried    {} requests were retried by the gateway\n", s.retried);
  out += fmt::format("duration   {:.1f} s, at most {} requests in flight\n", s.duration_s,
                     s.peak_in_flight);
  out += fmt::format("throughput {:.2f} req/s, {:.0f} input tok/s, {:.1f} output tok/s\n",
                     s.request_rate, s.input_token_rate, s.output_token_rate);
  out += fmt::format("goodput    {:.2f} req/s ({} of {} ok requests within slo {})\n", s.goodput,
                     s.good, s.ok, s.slo.ToString());
  out += fmt::format("\n{:<14}{:>8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}\n", "latency (ms)", "count",
                     "mean", "p50", "p90", "p99", "p99.9", "max");
  auto row = [&](std::string_view name, const Distribution& d) {
    out += fmt::format("{:<14}{:>8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}\n", name, d.count,
                       Ms(d.mean), Ms(d.p50), Ms(d.p90), Ms(d.p99), Ms(d.p999), Ms(d.max));
  };
  row("ttft", s.ttft_s);
  row("itl", s.itl_s);
  row("tpot", s.tpot_s);
  row("e2e", s.e2e_s);
  for (const ServerSide& server : s.server) {
    out +=
        fmt::format("{:<14}{:>8.0f}{:>10}{:>10}{:>10}{:>10}  ({})\n", "engine ttft", server.count,
                    Ms(server.mean), Ms(server.p50), Ms(server.p90), Ms(server.p99), server.name);
  }
  if (!s.replicas.empty()) {
    out += "\nreplicas  ";
    for (const auto& [name, count] : s.replicas) out += fmt::format(" {}={}", name, count);
    out += '\n';
  }
  out += fmt::format(
      "\ngenerator  lag p50 {} ms, p99 {} ms, max {} ms; {} of {} sent more than {} ms late{}\n",
      Ms(s.lag_s.p50), Ms(s.lag_s.p99), Ms(s.lag_s.max), s.late, s.sent, kLateSeconds * 1000,
      s.fell_behind ? "\n           WARNING: the generator fell behind its schedule; "
                      "offered load was lower than asked"
                    : "");
  return out;
}

boost::json::object ToJson(const Summary& s, std::span<const RequestRecord> records) {
  boost::json::object o;
  o["workload"] = s.workload;
  o["target"] = s.target;
  o["interrupted"] = s.interrupted;
  boost::json::object counts;
  counts["scheduled"] = s.scheduled;
  counts["sent"] = s.sent;
  counts["ok"] = s.ok;
  counts["failed"] = s.failed;
  counts["aborted"] = s.aborted;
  counts["not_sent"] = s.not_sent;
  counts["retried"] = s.retried;
  counts["peak_in_flight"] = s.peak_in_flight;
  o["requests"] = std::move(counts);
  boost::json::object errors;
  for (const auto& [reason, count] : s.errors) errors[reason] = count;
  o["errors"] = std::move(errors);
  o["duration_s"] = s.duration_s;
  boost::json::object latency;
  latency["ttft"] = DistributionJson(s.ttft_s);
  latency["itl"] = DistributionJson(s.itl_s);
  latency["tpot"] = DistributionJson(s.tpot_s);
  latency["e2e"] = DistributionJson(s.e2e_s);
  o["latency_ms"] = std::move(latency);
  boost::json::object throughput;
  throughput["requests_per_s"] = s.request_rate;
  throughput["input_tokens_per_s"] = s.input_token_rate;
  throughput["output_tokens_per_s"] = s.output_token_rate;
  throughput["input_tokens"] = s.input_tokens;
  throughput["output_tokens"] = s.output_tokens;
  o["throughput"] = std::move(throughput);
  boost::json::object goodput;
  goodput["slo"] = s.slo.ToString();
  if (s.slo.ttft_s) goodput["ttft_ms"] = *s.slo.ttft_s * 1000;
  if (s.slo.itl_s) goodput["itl_ms"] = *s.slo.itl_s * 1000;
  if (s.slo.e2e_s) goodput["e2e_ms"] = *s.slo.e2e_s * 1000;
  goodput["good"] = s.good;
  goodput["requests_per_s"] = s.goodput;
  goodput["fraction_of_ok"] =
      s.ok > 0 ? static_cast<double>(s.good) / static_cast<double>(s.ok) : 0.0;
  o["goodput"] = std::move(goodput);
  boost::json::object generator;
  generator["lag_ms"] = DistributionJson(s.lag_s);
  generator["late"] = s.late;
  generator["late_threshold_ms"] = kLateSeconds * 1000;
  generator["fell_behind"] = s.fell_behind;
  o["generator"] = std::move(generator);
  boost::json::object replicas;
  for (const auto& [name, count] : s.replicas) replicas[name] = count;
  o["replicas"] = std::move(replicas);
  boost::json::array server;
  for (const ServerSide& side : s.server) {
    boost::json::object e;
    e["name"] = side.name;
    e["count"] = Num(side.count);
    e["mean_ms"] = Num(side.mean * 1000);
    e["p50_ms"] = Num(side.p50 * 1000);
    e["p90_ms"] = Num(side.p90 * 1000);
    e["p99_ms"] = Num(side.p99 * 1000);
    server.push_back(std::move(e));
  }
  o["server_ttft"] = std::move(server);
  boost::json::array timeline;
  for (const Bucket& b : s.timeline) {
    boost::json::object e;
    e["start_s"] = b.start_s;
    e["sent"] = b.sent;
    e["completed"] = b.completed;
    e["failed"] = b.failed;
    e["output_tokens"] = b.output_tokens;
    e["ttft_p50_ms"] = b.ttft_p50_s * 1000;
    timeline.push_back(std::move(e));
  }
  o["timeline"] = std::move(timeline);
  if (!records.empty()) {
    boost::json::array list;
    list.reserve(records.size());
    for (const RequestRecord& r : records) {
      boost::json::object e;
      e["session"] = r.session;
      e["turn"] = r.turn;
      e["outcome"] = OutcomeName(r.outcome);
      e["scheduled_s"] = r.scheduled_s;
      if (r.sent_s >= 0) e["sent_s"] = r.sent_s;
      if (r.first_token_s >= 0) e["ttft_ms"] = r.ttft_s() * 1000;
      if (r.end_s >= 0 && r.sent_s >= 0) e["e2e_ms"] = r.e2e_s() * 1000;
      if (r.status != 0) e["status"] = r.status;
      if (!r.error.empty()) e["error"] = r.error;
      e["input_tokens"] = r.input_tokens;
      e["output_tokens"] = r.output_tokens;
      if (r.cached_tokens >= 0) e["cached_tokens"] = r.cached_tokens;
      if (r.chunks > 1) e["max_itl_ms"] = r.max_itl_s * 1000;
      if (r.attempts > 0) e["attempts"] = r.attempts;
      if (!r.replica.empty()) e["replica"] = r.replica;
      list.push_back(std::move(e));
    }
    o["per_request"] = std::move(list);
  }
  return o;
}

}  // namespace brix::report
