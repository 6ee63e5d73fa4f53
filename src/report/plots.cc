// The report's three plots (report.h), drawn with svg_chart.h.
#include <algorithm>
#include <cmath>

#include "report/report.h"
#include "report/svg_chart.h"

namespace brix::report {

namespace {

// At most this many points per scatter or exact CDF, evenly thinned, to keep files small.
constexpr size_t kMaxPoints = 5000;

ChartSeries ExactCdf(std::string name, std::vector<double> values) {
  ChartSeries s;
  s.name = std::move(name);
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  const size_t step = std::max<size_t>(1, n / kMaxPoints);
  for (size_t i = 0; i < n; i += step) {
    s.points.emplace_back(values[i] * 1000, static_cast<double>(i + 1) / static_cast<double>(n));
  }
  if (n > 0) s.points.emplace_back(values.back() * 1000, 1.0);
  return s;
}

}  // namespace

std::string LatencyCdfSvg(std::span<const RequestRecord> records, const LatencyHistogram& itl) {
  std::vector<double> ttft, e2e;
  for (const RequestRecord& r : records) {
    if (r.outcome != Outcome::kOk) continue;
    if (r.first_token_s >= 0) ttft.push_back(r.ttft_s());
    e2e.push_back(r.e2e_s());
  }
  Chart chart;
  chart.title = "Latency CDF";
  chart.x_label = "latency (ms, log scale)";
  chart.y_label = "fraction of requests (of gaps, for ITL)";
  chart.log_x = true;
  chart.series.push_back(ExactCdf("time to first token", std::move(ttft)));
  ChartSeries gaps;
  gaps.name = "inter-token latency";
  for (auto [seconds, fraction] : itl.Cdf()) gaps.points.emplace_back(seconds * 1000, fraction);
  chart.series.push_back(std::move(gaps));
  chart.series.push_back(ExactCdf("end-to-end", std::move(e2e)));
  return RenderSvg(chart);
}

std::string TtftOverTimeSvg(std::span<const RequestRecord> records) {
  Chart chart;
  chart.title = "Time to first token over the run";
  chart.x_label = "time the request was sent (s)";
  chart.y_label = "TTFT (ms)";
  ChartSeries dots;
  dots.name = "one request";
  dots.scatter = true;
  size_t ok = 0;
  for (const RequestRecord& r : records) ok += r.outcome == Outcome::kOk && r.first_token_s >= 0;
  const size_t step = std::max<size_t>(1, ok / kMaxPoints);
  size_t i = 0;
  for (const RequestRecord& r : records) {
    if (r.outcome != Outcome::kOk || r.first_token_s < 0) continue;
    if (i++ % step == 0) dots.points.emplace_back(r.sent_s, r.ttft_s() * 1000);
  }
  chart.series.push_back(std::move(dots));
  return RenderSvg(chart);
}

namespace {

double BucketWidth(const Summary& summary) {
  return summary.timeline.size() > 1 ? summary.timeline[1].start_s - summary.timeline[0].start_s
                                     : 1.0;
}

}  // namespace

std::string ThroughputSvg(const Summary& summary) {
  Chart chart;
  chart.title = "Output tokens per second over the run";
  chart.x_label = "time (s)";
  chart.y_label = "output tokens / s";
  ChartSeries tokens{"output tokens / s", {}, false};
  const double width = BucketWidth(summary);
  for (const Bucket& b : summary.timeline) {
    tokens.points.emplace_back(b.start_s + width / 2, b.output_tokens / width);
  }
  chart.series.push_back(std::move(tokens));
  return RenderSvg(chart);
}

std::string RequestsSvg(const Summary& summary) {
  Chart chart;
  chart.title = "Requests per second over the run";
  chart.x_label = "time (s)";
  chart.y_label = "requests / s";
  ChartSeries sent{"sent", {}, false};
  ChartSeries completed{"completed", {}, false};
  ChartSeries failed{"failed", {}, false};
  const double width = BucketWidth(summary);
  for (const Bucket& b : summary.timeline) {
    const double mid = b.start_s + width / 2;
    sent.points.emplace_back(mid, static_cast<double>(b.sent) / width);
    completed.points.emplace_back(mid, static_cast<double>(b.completed) / width);
    failed.points.emplace_back(mid, static_cast<double>(b.failed) / width);
  }
  chart.series.push_back(std::move(sent));
  chart.series.push_back(std::move(completed));
  chart.series.push_back(std::move(failed));
  return RenderSvg(chart);
}

}  // namespace brix::report
