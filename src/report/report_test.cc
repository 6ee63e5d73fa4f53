#include "report/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <numeric>

#include "report/histogram.h"
#include "report/svg_chart.h"

namespace brix::report {
namespace {

using ::testing::HasSubstr;

TEST(LatencyHistogram, QuantilesWithinOnePercent) {
  LatencyHistogram h;
  for (int i = 1; i <= 10000; ++i) h.Record(i * 1e-4);  // 0.1 ms .. 1 s
  EXPECT_EQ(h.count(), 10000u);
  EXPECT_NEAR(h.mean(), 0.50005, 1e-9);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    EXPECT_NEAR(h.Quantile(q), q, q * 0.01) << q;
  }
  EXPECT_DOUBLE_EQ(h.Quantile(1), 1.0);  // clamped to the largest value
  LatencyHistogram other;
  other.Record(5);
  h.Merge(other);
  EXPECT_EQ(h.count(), 10001u);
  EXPECT_DOUBLE_EQ(h.max(), 5);
  EXPECT_DOUBLE_EQ(LatencyHistogram().Quantile(0.5), 0);
  const auto cdf = h.Cdf();
  ASSERT_FALSE(cdf.empty());
  EXPECT_DOUBLE_EQ(cdf.back().second, 1.0);
  h.Record(-1);  // bad values count as 0, never crash
  h.Record(std::nan(""));
  EXPECT_EQ(h.count(), 10003u);
}

RequestRecord Ok(double scheduled, double sent, double ttft, double end, int64_t out) {
  RequestRecord r;
  r.scheduled_s = scheduled;
  r.sent_s = sent;
  r.first_token_s = sent + ttft;
  r.end_s = end;
  r.outcome = Outcome::kOk;
  r.status = 200;
  r.input_tokens = 100;
  r.output_tokens = out;
  r.chunks = out;
  return r;
}

TEST(Summarize, AccountsForEveryRequestAndComputesPercentiles) {
  std::vector<RequestRecord> records;
  for (int i = 0; i < 100; ++i) {
    // TTFT i+1 ms; 11 tokens over 1 s after the first -> TPOT 100 ms.
    RequestRecord r = Ok(i * 0.1, i * 0.1, (i + 1) * 1e-3, i * 0.1 + (i + 1) * 1e-3 + 1.0, 11);
    r.replica = i % 2 ? "a" : "b";
    r.attempts = i == 5 ? 2 : 1;
    records.push_back(r);
  }
  RequestRecord failed;
  failed.scheduled_s = failed.sent_s = 3;
  failed.end_s = 3.5;
  failed.outcome = Outcome::kFailed;
  failed.status = 503;
  failed.error = "HTTP 503";
  records.push_back(failed);
  records.push_back(failed);
  RequestRecord aborted = failed;
  aborted.outcome = Outcome::kAborted;
  records.push_back(aborted);
  RequestRecord unsent;
  unsent.scheduled_s = 20;
  records.push_back(unsent);

  LatencyHistogram itl;
  for (int i = 0; i < 1000; ++i) itl.Record(0.1);
  Slo slo;
  slo.ttft_s = 0.050;  // 50 of the 100 ok requests
  slo.itl_s = 0.1001;
  const Summary s = Summarize(records, itl, slo);
  EXPECT_EQ(s.scheduled, 104u);
  EXPECT_EQ(s.sent, 103u);
  EXPECT_EQ(s.ok, 100u);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.aborted, 1u);
  EXPECT_EQ(s.not_sent, 1u);
  EXPECT_EQ(s.errors.at("HTTP 503"), 2u);
  EXPECT_EQ(s.retried, 1u);
  EXPECT_EQ(s.replicas.at("a"), 50u);
  EXPECT_NEAR(s.ttft_s.p50, 0.050, 1e-12);  // nearest rank
  EXPECT_NEAR(s.ttft_s.p90, 0.090, 1e-12);
  EXPECT_NEAR(s.ttft_s.p99, 0.099, 1e-12);
  EXPECT_NEAR(s.ttft_s.max, 0.100, 1e-12);
  EXPECT_NEAR(s.tpot_s.p50, 0.1, 1e-9);
  EXPECT_NEAR(s.itl_s.p50, 0.1, 0.001);
  EXPECT_EQ(s.good, 50u);
  EXPECT_EQ(s.output_tokens, 1100);
  EXPECT_NEAR(s.duration_s, 9.9 + 0.1 + 1.0, 1e-9);
  EXPECT_NEAR(s.goodput, 50 / s.duration_s, 1e-9);
  EXPECT_FALSE(s.fell_behind);
  // Requests overlap: each lasts ~1 s and one starts every 0.1 s, plus the failed/aborted ones.
  EXPECT_GE(s.peak_in_flight, 10u);
  EXPECT_LE(s.peak_in_flight, 14u);

  // The timeline spreads output tokens over [first token, end]: they add up to the total.
  double tokens = 0;
  size_t completed = 0, sent = 0;
  for (const Bucket& b : s.timeline) {
    tokens += b.output_tokens;
    completed += b.completed;
    sent += b.sent;
  }
  EXPECT_NEAR(tokens, 1100, 1e-6);
  EXPECT_EQ(completed, 100u);
  EXPECT_EQ(sent, 103u);

  const std::string table = FormatTable(s);
  EXPECT_THAT(table,
              HasSubstr("104 scheduled: 103 sent = 100 ok + 2 failed + 1 aborted; 1 not sent"));
  EXPECT_THAT(table, HasSubstr("HTTP 503"));
  EXPECT_THAT(table, HasSubstr("within slo ttft<=50ms itl<=100.1ms"));
  EXPECT_THAT(table, ::testing::Not(HasSubstr("WARNING")));

  records[0].cached_tokens = 7;
  const boost::json::object json = ToJson(s, records);
  EXPECT_EQ(json.at("requests").at("ok").as_uint64(), 100u);
  // cached_tokens only where the server reported it.
  EXPECT_EQ(json.at("per_request").at(0).at("cached_tokens").as_int64(), 7);
  EXPECT_FALSE(json.at("per_request").at(1).as_object().contains("cached_tokens"));
  EXPECT_NEAR(json.at("latency_ms").at("ttft").at("p50").as_double(), 50, 1e-9);
  EXPECT_EQ(json.at("per_request").as_array().size(), 104u);
  EXPECT_EQ(json.at("per_request").at(103).at("outcome").as_string(), "not_sent");
}

TEST(Summarize, LateSendsMeanTheGeneratorFellBehind) {
  std::vector<RequestRecord> records;
  for (int i = 0; i < 50; ++i) records.push_back(Ok(i, i + (i == 3 ? 0.5 : 0.001), 0.01, i + 1, 2));
  Summary s = Summarize(records, {}, {});
  EXPECT_EQ(s.late, 1u);
  EXPECT_TRUE(s.fell_behind);  // 2% > 1%
  EXPECT_NEAR(s.lag_s.max, 0.5, 1e-9);
  EXPECT_THAT(FormatTable(s), HasSubstr("WARNING: the generator fell behind"));
}

TEST(Summarize, EmptyRunAndPlotsStillRender) {
  const Summary s = Summarize({}, {}, {});
  EXPECT_EQ(s.scheduled, 0u);
  EXPECT_EQ(s.duration_s, 0);
  for (const std::string& svg :
       {LatencyCdfSvg({}, {}), TtftOverTimeSvg({}), ThroughputSvg(s), RequestsSvg(s)}) {
    EXPECT_TRUE(svg.starts_with("<svg")) << svg;
    EXPECT_THAT(svg, HasSubstr("no data"));
    EXPECT_TRUE(svg.ends_with("</svg>\n"));
  }
}

TEST(Summarize, RunWithoutOkRequestsIsStillJson) {
  // Nothing completed and the engines observed nothing (bench::ServerTtft gives NaN then): every
  // number must still be one JSON can carry, since Boost writes NaN as a bare `NaN`.
  RequestRecord failed;
  failed.scheduled_s = failed.sent_s = failed.end_s = 1;
  failed.outcome = Outcome::kFailed;
  failed.error = "HTTP 503";
  const std::vector<RequestRecord> records{failed, failed};
  Summary s = Summarize(records, {}, Slo{.ttft_s = 2});
  const double none = std::nan("");
  s.server.push_back(
      {.name = "vllm", .count = 0, .mean = none, .p50 = none, .p90 = none, .p99 = none});
  boost::system::error_code ec;
  const boost::json::value json =
      boost::json::parse(boost::json::serialize(ToJson(s, records)), ec);
  ASSERT_FALSE(ec) << boost::json::serialize(ToJson(s, records));
  EXPECT_EQ(json.at("requests").at("ok").to_number<int64_t>(), 0);
  EXPECT_EQ(json.at("throughput").at("requests_per_s").as_double(), 0);
  EXPECT_EQ(json.at("goodput").at("fraction_of_ok").as_double(), 0);
  EXPECT_EQ(json.at("latency_ms").at("ttft").at("count").to_number<int64_t>(), 0);
  EXPECT_TRUE(json.at("server_ttft").at(0).at("mean_ms").is_null());
  EXPECT_TRUE(json.at("server_ttft").at(0).at("p50_ms").is_null());
}

TEST(Plots, DrawTheData) {
  std::vector<RequestRecord> records;
  for (int i = 0; i < 300; ++i)
    records.push_back(Ok(i * 0.1, i * 0.1, 0.02 + i * 1e-4, i * 0.1 + 1, 10));
  LatencyHistogram itl;
  itl.Record(0.01);
  itl.Record(0.02);
  const Summary s = Summarize(records, itl, {});
  const std::string cdf = LatencyCdfSvg(records, itl);
  EXPECT_THAT(cdf, HasSubstr("time to first token"));
  EXPECT_THAT(cdf, HasSubstr("<polyline"));
  const std::string scatter = TtftOverTimeSvg(records);
  EXPECT_EQ(std::count(scatter.begin(), scatter.end(), '\n') > 300, true);
  EXPECT_THAT(ThroughputSvg(s), HasSubstr("<polyline"));
  EXPECT_THAT(RequestsSvg(s), HasSubstr("completed"));
}

TEST(SvgChart, EscapesTextAndSkipsBadPoints) {
  Chart chart;
  chart.title = "a <b> & \"c\"";
  chart.log_x = true;
  chart.series.push_back({"s", {{0, 1}, {-1, 2}, {10, std::nan("")}, {10, 3}, {100, 4}}, false});
  const std::string svg = RenderSvg(chart);
  EXPECT_THAT(svg, HasSubstr("a &lt;b&gt; &amp; &quot;c&quot;"));
  EXPECT_THAT(svg, ::testing::Not(HasSubstr("nan")));
  EXPECT_THAT(svg, ::testing::Not(HasSubstr("inf")));
}

}  // namespace
}  // namespace brix::report
