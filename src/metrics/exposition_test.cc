#include "metrics/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "metrics/parser.h"
#include "metrics/registry.h"

namespace brix::metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(ExpositionTest, ContentTypeIsTextFormat004) {
  EXPECT_EQ(kContentType, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(ExpositionTest, RendersCounterWithHelpTypeAndLabels) {
  Registry registry;
  CounterFamily* family = registry
                              .AddCounter({.name = "brix_requests_total",
                                           .help = "Requests received.",
                                           .label_names = {"model", "code"}})
                              .value();
  family->WithLabels({"llama", "200"})->Inc(3);
  family->WithLabels({"llama", "503"})->Inc();
  EXPECT_EQ(RenderText(registry),
            "# HELP brix_requests_total Requests received.\n"
            "# TYPE brix_requests_total counter\n"
            "brix_requests_total{model=\"llama\",code=\"200\"} 3\n"
            "brix_requests_total{model=\"llama\",code=\"503\"} 1\n");
}

TEST(ExpositionTest, OmitsTheHelpLineWhenHelpIsEmpty) {
  Registry registry;
  registry.AddGauge({.name = "up"}).value()->WithLabels({})->Set(1);
  EXPECT_EQ(RenderText(registry), "# TYPE up gauge\nup 1\n");
}

TEST(ExpositionTest, KeepsLabelsInDeclaredOrder) {
  Registry registry;
  registry.AddGauge({.name = "g", .label_names = {"zone", "app"}}).value()->WithLabels({"z1", "a"});
  EXPECT_EQ(RenderText(registry), "# TYPE g gauge\ng{zone=\"z1\",app=\"a\"} 0\n");
}

TEST(ExpositionTest, EscapesBackslashQuoteAndNewlineInLabelValues) {
  Registry registry;
  registry.AddGauge({.name = "g", .label_names = {"path"}})
      .value()
      ->WithLabels({"C:\\dir \"q\"\nnext"});
  EXPECT_EQ(RenderText(registry),
            "# TYPE g gauge\n"
            "g{path=\"C:\\\\dir \\\"q\\\"\\nnext\"} 0\n");
}

TEST(ExpositionTest, EscapesBackslashAndNewlineButNotQuotesInHelp) {
  Registry registry;
  ASSERT_TRUE(registry.AddGauge({.name = "g", .help = "a \\ b\n\"c\""}));
  EXPECT_EQ(RenderText(registry),
            "# HELP g a \\\\ b\\n\"c\"\n"
            "# TYPE g gauge\n"
            "g 0\n");
}

TEST(ExpositionTest, RendersHistogramBucketsCumulativeWithInfThenSumAndCount) {
  Registry registry;
  HistogramFamily* family =
      registry
          .AddHistogram(
              {.name = "ttft_seconds", .help = "Time to first token.", .label_names = {"model"}},
              {0.05, 0.5, 1})
          .value();
  std::shared_ptr<Histogram> h = family->WithLabels({"llama"});
  for (double v : {0.03125, 0.25, 0.375, 0.875, 3.0}) h->Observe(v);  // exact in binary
  EXPECT_EQ(RenderText(registry),
            "# HELP ttft_seconds Time to first token.\n"
            "# TYPE ttft_seconds histogram\n"
            "ttft_seconds_bucket{model=\"llama\",le=\"0.05\"} 1\n"
            "ttft_seconds_bucket{model=\"llama\",le=\"0.5\"} 3\n"
            "ttft_seconds_bucket{model=\"llama\",le=\"1\"} 4\n"
            "ttft_seconds_bucket{model=\"llama\",le=\"+Inf\"} 5\n"
            "ttft_seconds_sum{model=\"llama\"} 4.53125\n"
            "ttft_seconds_count{model=\"llama\"} 5\n");
}

TEST(ExpositionTest, RendersUnlabelledHistogramWithOnlyTheLeLabel) {
  Registry registry;
  registry.AddHistogram({.name = "h"}, {1}).value()->WithLabels({})->Observe(2);
  EXPECT_EQ(RenderText(registry),
            "# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 0\n"
            "h_bucket{le=\"+Inf\"} 1\n"
            "h_sum 2\n"
            "h_count 1\n");
}

TEST(ExpositionTest, RendersFamiliesInNameOrderWhateverTheRegistrationOrder) {
  Registry registry;
  ASSERT_TRUE(registry.AddGauge({.name = "zeta"}));
  ASSERT_TRUE(registry.AddCounter({.name = "alpha_total"}));
  ASSERT_TRUE(registry.AddGauge({.name = "vllm:x"}));
  const std::string text = RenderText(registry);
  EXPECT_EQ(text,
            "# TYPE alpha_total counter\nalpha_total 0\n"
            "# TYPE vllm:x gauge\nvllm:x 0\n"
            "# TYPE zeta gauge\nzeta 0\n");
  EXPECT_EQ(RenderText(registry), text);
}

TEST(ExpositionTest, AppendTextRendersTheGivenSnapshotsInOrder) {
  FamilySnapshot a{.name = "a", .type = MetricType::kUntyped};
  a.series.push_back({.value = 1});
  FamilySnapshot empty{.name = "empty", .type = MetricType::kGauge};
  std::string out = "prefix\n";
  const FamilySnapshot families[] = {a, empty};
  AppendText(families, out);
  EXPECT_EQ(out, "prefix\n# TYPE a untyped\na 1\n");
}

TEST(FormatValueTest, WritesWholeNumbersWithoutExponentAndSpecialsAsPrometheusDoes) {
  const std::pair<double, const char*> cases[] = {
      {0, "0"},
      {-0.0, "0"},
      {1, "1"},
      {-1, "-1"},
      {1000000, "1000000"},
      {1234567, "1234567"},
      {999999999999999, "999999999999999"},
      {1e15, "1e+15"},
      {9007199254740993.0, "9007199254740992"},
      {0.25, "0.25"},
      {0.1, "0.1"},
      {1e-5, "1e-05"},
      {123.456, "123.456"},
      {1.5e300, "1.5e+300"},
      {-2.5e-7, "-2.5e-07"},
      {kInf, "+Inf"},
      {-kInf, "-Inf"},
      {kNaN, "NaN"},
  };
  for (const auto& [value, text] : cases) EXPECT_EQ(FormatValue(value), text) << text;
}

TEST(FormatValueTest, RoundTripsEveryDoubleExactly) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> bits;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t b = bits(rng);
    double value = 0;
    std::memcpy(&value, &b, sizeof(value));
    if (!std::isfinite(value)) continue;
    const std::string text = FormatValue(value);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), value) << text;
  }
}

// What the registry renders, the parser reads back to the same values.
TEST(ExpositionTest, RenderedRegistryParsesBackToTheSameValues) {
  Registry registry;
  CounterFamily* tokens = registry
                              .AddCounter({.name = "brix:tokens_total",
                                           .help = "Tokens \\ \"streamed\"\nper model.",
                                           .label_names = {"model", "kind"}})
                              .value();
  tokens->WithLabels({"meta-llama/Llama-3.1-8B-Instruct", "prompt"})->Inc(1234567);
  tokens->WithLabels({"meta-llama/Llama-3.1-8B-Instruct", "completion"})->Add(0.1);
  tokens->WithLabels({"we\"ird\\name\n", "prompt"})->Inc(2);
  GaugeFamily* usage = registry.AddGauge({.name = "kv_usage", .label_names = {"pod"}}).value();
  usage->WithLabels({"a"})->Set(0.7345);
  usage->WithLabels({"b"})->Set(-kInf);
  usage->WithLabels({"c"})->Set(1e-300);
  HistogramFamily* latency =
      registry
          .AddHistogram({.name = "latency_seconds", .label_names = {"route"}},
                        ExponentialBuckets(0.001, 10, 5))
          .value();
  for (double v : {0.0005, 0.002, 0.02, 0.2, 2.0, 20.0, 200.0}) {
    latency->WithLabels({"/v1/chat/completions"})->Observe(v);
  }
  CallbackRegistration queue =
      registry.AddCallbackGauge({.name = "queue_length"}, SingleValue([] { return 17.0; })).value();

  Result<ParsedPage> page = ParseText(RenderText(registry));
  ASSERT_TRUE(page) << page.error().ToString();
  EXPECT_EQ(page->error_count(), 0u);
  ASSERT_EQ(page->families().size(), 4u);

  const ParsedFamily* t = page->Find("brix:tokens_total");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type(), MetricType::kCounter);
  EXPECT_EQ(t->help(), "Tokens \\ \"streamed\"\nper model.");
  EXPECT_EQ(t->Value({{"model", "meta-llama/Llama-3.1-8B-Instruct"}, {"kind", "prompt"}}), 1234567);
  EXPECT_EQ(t->Value({{"kind", "completion"}, {"model", "meta-llama/Llama-3.1-8B-Instruct"}}), 0.1);
  EXPECT_EQ(t->Value({{"model", "we\"ird\\name\n"}, {"kind", "prompt"}}), 2);

  const ParsedFamily* u = page->Find("kv_usage");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->Value({{"pod", "a"}}), 0.7345);
  EXPECT_EQ(u->Value({{"pod", "b"}}), -kInf);
  EXPECT_EQ(u->Value({{"pod", "c"}}), 1e-300);

  const ParsedFamily* l = page->Find("latency_seconds");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->type(), MetricType::kHistogram);
  std::optional<HistogramData> h = l->ReadHistogram({{"route", "/v1/chat/completions"}});
  ASSERT_TRUE(h);
  EXPECT_EQ(h->count, 7);
  EXPECT_DOUBLE_EQ(h->sum, 0.0005 + 0.002 + 0.02 + 0.2 + 2.0 + 20.0 + 200.0);
  const std::shared_ptr<Histogram> source = latency->WithLabels({"/v1/chat/completions"});
  const std::vector<uint64_t> counts = source->CumulativeCounts();
  ASSERT_EQ(h->buckets.size(), counts.size());
  for (size_t i = 0; i < counts.size(); ++i) {
    const double bound = i < source->bucket_bounds().size() ? source->bucket_bounds()[i] : kInf;
    EXPECT_EQ(h->buckets[i].upper_bound, bound);
    EXPECT_EQ(h->buckets[i].cumulative_count, double(counts[i]));
  }

  EXPECT_EQ(page->Find("queue_length")->Value({}), 17);
}

}  // namespace
}  // namespace brix::metrics
