#include "metrics/parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace brix::metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::string_view kLlama = "meta-llama/Llama-3.1-8B-Instruct";

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(BRIX_METRICS_TESTDATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open testdata/" << name;
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Parses `text`, failing the test on a page error.
ParsedPage MustParse(std::string_view text, const ParseLimits& limits = {}) {
  Result<ParsedPage> page = ParseText(text, limits);
  EXPECT_TRUE(page) << page.error().ToString();
  return page ? std::move(*page) : ParsedPage();
}

std::vector<std::string> ErrorStrings(const ParsedPage& page) {
  std::vector<std::string> out;
  for (const LineError& e : page.errors()) out.push_back(e.ToString());
  return out;
}

TEST(ParserVllmTest, ParsesARealisticPageWithoutErrors) {
  const std::string text = ReadTestdata("vllm_v1_metrics.txt");
  ParsedPage page = MustParse(text);
  EXPECT_EQ(page.error_count(), 0u) << ErrorStrings(page)[0];
  EXPECT_EQ(page.families().size(), 41u);
  EXPECT_EQ(page.sample_count(), 351u);
}

TEST(ParserVllmTest, ReadsSchedulerGaugesPerEngineAndSummedOverEngines) {
  ParsedPage page = MustParse(ReadTestdata("vllm_v1_metrics.txt"));
  const ParsedFamily* running = page.Find("vllm:num_requests_running");
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->type(), MetricType::kGauge);
  EXPECT_EQ(running->help(), "Number of requests in model execution batches.");
  EXPECT_EQ(running->Value({{"engine", "0"}, {"model_name", kLlama}}), 2);
  EXPECT_EQ(running->Value({{"model_name", kLlama}, {"engine", "1"}}), 3);
  EXPECT_EQ(running->Value({{"model_name", kLlama}}), std::nullopt);  // not an exact label set
  EXPECT_EQ(running->Sum({{"model_name", kLlama}}), 5);
  EXPECT_EQ(running->Sum({{"model_name", "other-model"}}), std::nullopt);

  EXPECT_EQ(page.Find("vllm:num_requests_waiting")->Sum({}), 1);
  EXPECT_EQ(page.Find("vllm:kv_cache_usage_perc")->Value({{"engine", "1"}, {"model_name", kLlama}}),
            0.11953125);
}

TEST(ParserVllmTest, ReadsCountersAndTheirCreatedGauges) {
  ParsedPage page = MustParse(ReadTestdata("vllm_v1_metrics.txt"));
  const ParsedFamily* success = page.Find("vllm:request_success_total");
  ASSERT_NE(success, nullptr);
  EXPECT_EQ(success->type(), MetricType::kCounter);
  EXPECT_EQ(success->Sum({{"finished_reason", "stop"}}), 247 + 251);
  EXPECT_EQ(success->Sum({}), 1 + 12 + 247 + 0 + 9 + 251);
  // prometheus_client's 0.0.4 output puts `_created` in a gauge family of its own.
  const ParsedFamily* created = page.Find("vllm:request_success_created");
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->type(), MetricType::kGauge);
  EXPECT_EQ(created->samples().size(), 6u);
  EXPECT_DOUBLE_EQ(created->samples()[0].value, 1752345678.9123456);
  // Asking by the base name finds the counter too.
  EXPECT_EQ(page.Find("vllm:prompt_tokens"), page.Find("vllm:prompt_tokens_total"));
  EXPECT_EQ(page.Find("vllm:prompt_tokens")->Sum({{"model_name", kLlama}}), 182934 + 177204);
}

TEST(ParserVllmTest, ReadsHistogramsPerEngineAndMergedForPercentiles) {
  ParsedPage page = MustParse(ReadTestdata("vllm_v1_metrics.txt"));
  const ParsedFamily* e2e = page.Find("vllm:e2e_request_latency_seconds");
  ASSERT_NE(e2e, nullptr);
  EXPECT_EQ(e2e->type(), MetricType::kHistogram);

  std::optional<HistogramData> engine0 = e2e->ReadHistogram({{"engine", "0"}});
  ASSERT_TRUE(engine0);
  EXPECT_EQ(engine0->count, 260);
  EXPECT_DOUBLE_EQ(engine0->sum, 1415.2923226665491);
  ASSERT_EQ(engine0->buckets.size(), 22u);
  EXPECT_EQ(engine0->buckets.front().upper_bound, 0.3);
  EXPECT_EQ(engine0->buckets.back().upper_bound, kInf);
  EXPECT_EQ(engine0->buckets.back().cumulative_count, 260);
  // The median lies in (2.5, 5]: 36 observations up to 2.5, 143 up to 5.
  EXPECT_DOUBLE_EQ(engine0->Quantile(0.5), 2.5 + 2.5 * (130.0 - 36) / (143 - 36));

  std::optional<HistogramData> both = e2e->ReadHistogram({{"model_name", kLlama}});
  ASSERT_TRUE(both);
  EXPECT_EQ(both->count, 520);
  EXPECT_EQ(both->buckets.size(), 22u);  // equal bounds of the two engines merged
  EXPECT_EQ(both->buckets.back().cumulative_count, 520);

  // A histogram whose name ends in _total is still a histogram.
  const ParsedFamily* iteration = page.Find("vllm:iteration_tokens_total");
  ASSERT_NE(iteration, nullptr);
  EXPECT_EQ(iteration->type(), MetricType::kHistogram);
  EXPECT_EQ(iteration->ReadHistogram({})->count, 900 + 880);

  const ParsedFamily* ttft = page.Find("vllm:time_to_first_token_seconds");
  ASSERT_NE(ttft, nullptr);
  const double p99 = ttft->ReadHistogram({})->Quantile(0.99);
  EXPECT_GT(p99, 0.25);
  EXPECT_LE(p99, 1.0);
}

TEST(ParserVllmTest, ReadsProcessAndInfoMetrics) {
  ParsedPage page = MustParse(ReadTestdata("vllm_v1_metrics.txt"));
  EXPECT_EQ(page.Find("process_max_fds")->Value({}), 1048576);
  EXPECT_EQ(page.Find("python_gc_collections_total")->Value({{"generation", "2"}}), 9);
  const ParsedFamily* lora = page.Find("vllm:lora_requests_info");
  ASSERT_NE(lora, nullptr);
  ASSERT_EQ(lora->samples().size(), 1u);
  EXPECT_EQ(lora->samples()[0].LabelValue("running_lora_adapters"), "");
  EXPECT_EQ(lora->samples()[0].LabelValue("absent"), std::nullopt);
  const ParsedFamily* cache = page.Find("vllm:cache_config_info");
  EXPECT_EQ(cache->samples()[1].LabelValue("num_gpu_blocks"), "27545");
}

TEST(ParserSglangTest, ReadsGaugesCountersAndHistogram) {
  const std::string text = ReadTestdata("sglang_metrics.txt");
  ParsedPage page = MustParse(text);
  EXPECT_EQ(page.error_count(), 0u);
  EXPECT_EQ(page.families().size(), 12u);
  EXPECT_EQ(page.sample_count(), 39u);

  const ParsedFamily* running = page.Find("sglang:num_running_reqs");
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->Sum({{"model_name", "Qwen/Qwen2.5-7B-Instruct"}}), 28);
  EXPECT_EQ(running->Sum({{"tp_rank", "1"}}), 14);
  EXPECT_EQ(page.Find("sglang:token_usage")->Sum({{"tp_rank", "0"}}), 0.37);
  EXPECT_EQ(page.Find("sglang:num_queue_reqs")->Sum({{"tp_rank", "0"}}), 3);
  EXPECT_EQ(page.Find("sglang:generation_tokens_total")->Sum({}), 2210431);

  std::optional<HistogramData> ttft =
      page.Find("sglang:time_to_first_token_seconds")->ReadHistogram({{"tp_rank", "0"}});
  ASSERT_TRUE(ttft);
  EXPECT_EQ(ttft->count, 9120);
  EXPECT_DOUBLE_EQ(ttft->sum, 3912.4412);
  EXPECT_DOUBLE_EQ(ttft->Quantile(0.5), 0.2 + 0.2 * (4560.0 - 3240) / (6521 - 3240));
}

TEST(ParserTest, EmptyInputIsAnEmptyPage) {
  ParsedPage page = MustParse("");
  EXPECT_TRUE(page.families().empty());
  EXPECT_EQ(page.error_count(), 0u);
  EXPECT_EQ(page.Find("x"), nullptr);
  EXPECT_TRUE(ParseText(std::string_view()));  // a null view, as from an empty body
}

TEST(ParserTest, SamplesWithoutTypeLinesFormUntypedFamilies) {
  ParsedPage page = MustParse("foo 1\nfoo_bucket{le=\"1\"} 2\nbar{a=\"b\"} 3\n");
  ASSERT_EQ(page.families().size(), 3u);
  EXPECT_EQ(page.families()[0].name(), "foo");
  EXPECT_EQ(page.families()[0].type(), MetricType::kUntyped);
  EXPECT_EQ(page.families()[1].name(), "foo_bucket");
  EXPECT_EQ(page.Find("bar")->Value({{"a", "b"}}), 3);
}

TEST(ParserTest, AssignsSuffixSamplesToTheirFamilyWithTheirRole) {
  ParsedPage page = MustParse(
      "# TYPE h histogram\n"
      "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\nh_created 1.7e9\n"
      "# TYPE s summary\n"
      "s{quantile=\"0.5\"} 0.2\ns_sum 9\ns_count 4\n");
  ASSERT_EQ(page.families().size(), 2u);
  const ParsedFamily& h = page.families()[0];
  ASSERT_EQ(h.samples().size(), 5u);
  EXPECT_EQ(h.samples()[0].role, SampleRole::kBucket);
  EXPECT_EQ(h.samples()[2].role, SampleRole::kSum);
  EXPECT_EQ(h.samples()[3].role, SampleRole::kCount);
  EXPECT_EQ(h.samples()[4].role, SampleRole::kCreated);
  EXPECT_EQ(h.samples()[4].name, "h_created");

  const ParsedFamily& s = page.families()[1];
  EXPECT_EQ(s.type(), MetricType::kSummary);
  EXPECT_EQ(s.Value({{"quantile", "0.5"}}), 0.2);
  std::optional<HistogramData> sum_count = s.ReadHistogram({});
  ASSERT_TRUE(sum_count);
  EXPECT_TRUE(sum_count->buckets.empty());
  EXPECT_EQ(sum_count->sum, 9);
  EXPECT_EQ(sum_count->count, 4);
}

TEST(ParserTest, GroupsSamplesOfAFamilyThatAreNotContiguous) {
  ParsedPage page = MustParse(
      "# TYPE a gauge\n# TYPE h histogram\n"
      "a{x=\"1\"} 1\nh_count 5\na{x=\"2\"} 2\nh_sum 7\n");
  ASSERT_EQ(page.families().size(), 2u);
  EXPECT_EQ(page.Find("a")->samples().size(), 2u);
  EXPECT_EQ(page.Find("a")->Sum({}), 3);
  EXPECT_EQ(page.Find("h")->ReadHistogram({})->count, 5);
  EXPECT_EQ(page.Find("h")->ReadHistogram({})->sum, 7);
}

TEST(ParserTest, ReadsOpenMetricsCountersAndStopsAtEof) {
  ParsedPage page = MustParse(
      "# HELP requests Requests.\n"
      "# TYPE requests counter\n"
      "requests_total{code=\"200\"} 3.0\n"
      "requests_created{code=\"200\"} 1.7e9\n"
      "# TYPE build info\n"
      "build_info{version=\"1.2\"} 1\n"
      "# TYPE lat gaugehistogram\n"
      "lat_bucket{le=\"+Inf\"} 4\nlat_gcount 4\nlat_gsum 2\n"
      "# TYPE thing unknown\nthing 1\n"
      "# EOF\n");
  EXPECT_EQ(page.error_count(), 0u);
  const ParsedFamily* requests = page.Find("requests_total");
  ASSERT_NE(requests, nullptr);
  EXPECT_EQ(requests->name(), "requests");
  EXPECT_EQ(requests->type(), MetricType::kCounter);
  EXPECT_EQ(requests->Value({{"code", "200"}}), 3);
  EXPECT_EQ(requests->samples()[1].role, SampleRole::kCreated);
  EXPECT_EQ(page.Find("build")->type(), MetricType::kGauge);
  EXPECT_EQ(page.Find("build")->Value({{"version", "1.2"}}), 1);
  EXPECT_EQ(page.Find("lat")->ReadHistogram({})->count, 4);
  EXPECT_EQ(page.Find("lat")->ReadHistogram({})->sum, 2);
  EXPECT_EQ(page.Find("thing")->type(), MetricType::kUntyped);
}

TEST(ParserTest, ReportsContentAfterEofOnceAndStops) {
  ParsedPage page = MustParse("a 1\n# EOF\n\nb 2\nc 3\n");
  ASSERT_EQ(page.error_count(), 1u);
  EXPECT_EQ(page.errors()[0].ToString(), "line 4: unexpected content after \"# EOF\"");
  EXPECT_EQ(page.Find("b"), nullptr);
}

TEST(ParserTest, FindsACounterDeclaredWithTotalByItsBaseNameOnly) {
  ParsedPage page =
      MustParse("# TYPE x_total counter\nx_total 1\n# TYPE g_total gauge\ng_total 2\n");
  EXPECT_EQ(page.Find("x"), page.Find("x_total"));
  EXPECT_EQ(page.Find("g"), nullptr);  // only counters get the suffix treatment
}

TEST(ParserTest, HandlesCrlfTrailingWhitespaceBlankLinesBomAndIndentation) {
  ParsedPage page = MustParse(
      "\xEF\xBB\xBF# TYPE a gauge\r\n"
      "\r\n"
      "a{x=\"1\"} 1 \t\r\n"
      "   \t\n"
      "  a{x=\"2\"}\t2\n"
      "# just a comment\n"
      "#\n"
      "b 3");
  EXPECT_EQ(page.error_count(), 0u) << ErrorStrings(page)[0];
  EXPECT_EQ(page.Find("a")->type(), MetricType::kGauge);
  EXPECT_EQ(page.Find("a")->Sum({}), 3);
  EXPECT_EQ(page.Find("b")->Value({}), 3);
}

TEST(ParserTest, ParsesSpecialValuesExponentsAndSigns) {
  ParsedPage page = MustParse(
      "v{k=\"nan\"} NaN\nv{k=\"pinf\"} +Inf\nv{k=\"ninf\"} -Inf\nv{k=\"inf\"} Inf\n"
      "v{k=\"exp\"} 1.5e3\nv{k=\"nexp\"} -2.5E-3\nv{k=\"dot\"} .5\nv{k=\"plus\"} +3\n"
      "v{k=\"int\"} 42\n");
  EXPECT_EQ(page.error_count(), 0u) << ErrorStrings(page)[0];
  const ParsedFamily* v = page.Find("v");
  EXPECT_TRUE(std::isnan(*v->Value({{"k", "nan"}})));
  EXPECT_EQ(v->Value({{"k", "pinf"}}), kInf);
  EXPECT_EQ(v->Value({{"k", "ninf"}}), -kInf);
  EXPECT_EQ(v->Value({{"k", "inf"}}), kInf);
  EXPECT_EQ(v->Value({{"k", "exp"}}), 1500);
  EXPECT_EQ(v->Value({{"k", "nexp"}}), -0.0025);
  EXPECT_EQ(v->Value({{"k", "dot"}}), 0.5);
  EXPECT_EQ(v->Value({{"k", "plus"}}), 3);
  EXPECT_EQ(v->Value({{"k", "int"}}), 42);
}

TEST(ParserTest, ParsesTimestamps) {
  ParsedPage page = MustParse("a 1 1712345678901\nb 2 -5\nc 3\n");
  EXPECT_EQ(page.Find("a")->samples()[0].timestamp_ms, 1712345678901);
  EXPECT_EQ(page.Find("b")->samples()[0].timestamp_ms, -5);
  EXPECT_EQ(page.Find("c")->samples()[0].timestamp_ms, std::nullopt);
}

TEST(ParserTest, UnescapesLabelValuesAndKeepsUnknownEscapesAsWritten) {
  ParsedPage page = MustParse(R"(a{v="back\\slash \"quoted\" new\nline"} 1)"
                              "\n"
                              R"(b{v="tab\t unicode\u00e9 end\\"} 2)"
                              "\n");
  EXPECT_EQ(page.error_count(), 0u) << ErrorStrings(page)[0];
  EXPECT_EQ(page.Find("a")->samples()[0].LabelValue("v"), "back\\slash \"quoted\" new\nline");
  EXPECT_EQ(page.Find("b")->samples()[0].LabelValue("v"), "tab\\t unicode\\u00e9 end\\");
}

TEST(ParserTest, UnescapesHelp) {
  ParsedPage page = MustParse("# HELP a one\\ntwo \\\\ \\x \"q\"\na 1\n");
  EXPECT_EQ(page.Find("a")->help(), "one\ntwo \\ \\x \"q\"");
}

TEST(ParserTest, AcceptsBlanksInsideBracesAndATrailingComma) {
  ParsedPage page = MustParse("a { x = \"1\" , y=\"2\", } 5\nb{} 6\nc{,} 7\n");
  ASSERT_EQ(page.error_count(), 1u);
  EXPECT_EQ(page.errors()[0].ToString(), "line 3: expected label name, found ','");
  EXPECT_EQ(page.Find("a")->Value({{"x", "1"}, {"y", "2"}}), 5);
  EXPECT_EQ(page.Find("b")->Value({}), 6);
}

TEST(ParserTest, SkipsExemplars) {
  ParsedPage page = MustParse(
      "# TYPE h histogram\n"
      "h_bucket{le=\"1\"} 3 # {trace_id=\"abc\"} 0.5 1712345678.1\n"
      "h_bucket{le=\"+Inf\"} 4 1712345678000 # {trace_id=\"def\"} 2\n");
  EXPECT_EQ(page.error_count(), 0u) << ErrorStrings(page)[0];
  EXPECT_EQ(page.Find("h")->ReadHistogram({})->buckets.size(), 2u);
}

TEST(ParserTest, ReportsEachBadLineWithItsNumberAndKeepsTheGoodOnes) {
  const std::string text =
      "good 1\n"                 // 1
      "a{x} 1\n"                 // 2
      "a{x=1} 1\n"               // 3
      "a{x=\"1} 1\n"             // 4
      "a{x=\"1\" y=\"2\"} 1\n"   // 5
      "a{x=\"1\",x=\"2\"} 1\n"   // 6
      "a{1x=\"1\"} 1\n"          // 7
      "a{\"x\"=\"1\"} 1\n"       // 8
      "{\"a\"} 1\n"              // 9
      "a\n"                      // 10
      "a one\n"                  // 11
      "a 1 12.5\n"               // 12
      "a 1 2 3\n"                // 13
      "a-b 1\n"                  // 14
      "-a 1\n"                   // 15
      "# TYPE t nonsense\n"      // 16
      "# TYPE t gauge extra\n"   // 17
      "# TYPE t\n"               // 18
      "# HELP\n"                 // 19
      "# HELP 9a x\n"            // 20
      "# TYPE good gauge\n"      // 21
      "# HELP good first\n"      // 22
      "# HELP good second\n"     // 23
      "# TYPE g gauge\n"         // 24
      "# TYPE g counter\n"       // 25
      "# TYPE h histogram\n"     // 26
      "h 1\n"                    // 27
      "a{x=\"1\"\n"              // 28
      "also_good{x=\"y\"} 2\n";  // 29
  Result<ParsedPage> page = ParseText(text);
  ASSERT_TRUE(page);
  EXPECT_EQ(ErrorStrings(*page), (std::vector<std::string>{
                                     "line 2: expected '=' after label name",
                                     "line 3: expected '\"' to start the label value",
                                     "line 4: unterminated value of label 'x'",
                                     "line 5: expected ',' or '}' after label value",
                                     "line 6: duplicate label name 'x'",
                                     "line 7: expected label name, found '1'",
                                     "line 8: quoted label names are not supported",
                                     "line 9: quoted metric names are not supported",
                                     "line 10: expected sample value",
                                     "line 11: invalid sample value 'one'",
                                     "line 12: invalid timestamp '12.5'",
                                     "line 13: unexpected text after timestamp: '3'",
                                     "line 14: invalid character '-' in metric name",
                                     "line 15: expected metric name, found '-'",
                                     "line 16: unknown metric type 'nonsense'",
                                     "line 17: unexpected text after metric type",
                                     "line 18: expected metric type after metric name",
                                     "line 19: expected metric name after HELP",
                                     "line 20: expected metric name after HELP",
                                     "line 21: TYPE line for 'good' after its samples",
                                     "line 23: second HELP line for 'good'",
                                     "line 25: second TYPE line for 'g'",
                                     "line 27: sample 'h' lacks the suffix its family's type needs",
                                     "line 28: expected ',' or '}' after label value",
                                 }));
  EXPECT_EQ(page->Find("good")->Value({}), 1);
  EXPECT_EQ(page->Find("good")->help(), "first");
  EXPECT_EQ(page->Find("also_good")->Value({{"x", "y"}}), 2);
  // Failed lines leave no samples or labels behind.
  EXPECT_EQ(page->Find("a"), nullptr);
  EXPECT_EQ(page->sample_count(), 2u);
}

TEST(ParserTest, DetectsDuplicateLabelNamesAmongManyLabels) {
  std::string line = "a{";
  for (int i = 0; i < 20; ++i) line += "l" + std::to_string(i) + "=\"v\",";
  line += "l7=\"again\"} 1\nb 1\n";
  ParsedPage page = MustParse(line);
  ASSERT_EQ(page.error_count(), 1u);
  EXPECT_EQ(page.errors()[0].ToString(), "line 1: duplicate label name 'l7'");
}

TEST(ParserTest, EscapesControlBytesAndTruncatesTokensInErrorMessages) {
  ParsedPage page = MustParse("a \x1b[31m\nb " + std::string(100, 'x') + "\nok 1\n");
  ASSERT_EQ(page.error_count(), 2u);
  EXPECT_EQ(page.errors()[0].ToString(), "line 1: invalid sample value '\\x1b[31m'");
  EXPECT_EQ(page.errors()[1].ToString(),
            "line 2: invalid sample value '" + std::string(40, 'x') + "...'");
}

TEST(ParserTest, FailsWhenNoSampleParses) {
  Result<ParsedPage> page = ParseText("<html>\n<body>502 Bad Gateway</body>\n</html>\n");
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(page.error().message,
            "no sample could be parsed; first error: line 1: expected metric name, found '<'");
}

TEST(ParserTest, MetadataOnlyPageIsNotAnError) {
  ParsedPage page = MustParse("# HELP a Nothing yet.\n# TYPE a counter\n");
  ASSERT_NE(page.Find("a"), nullptr);
  EXPECT_TRUE(page.Find("a")->samples().empty());
  EXPECT_EQ(page.Find("a")->Sum({}), std::nullopt);
  EXPECT_EQ(page.Find("a")->ReadHistogram({}), std::nullopt);
}

TEST(ParserLimitsTest, RejectsAPageOverMaxBytes) {
  Result<ParsedPage> page = ParseText("a 1\n", ParseLimits{.max_bytes = 3});
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().code, Errc::kResourceExhausted);
  EXPECT_EQ(page.error().message, "page is 4 bytes, over the limit of 3");
}

TEST(ParserLimitsTest, RejectsALineOverMaxLineLength) {
  Result<ParsedPage> page = ParseText("a 1\nabcdef 1\r\n", ParseLimits{.max_line_length = 8});
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().code, Errc::kResourceExhausted);
  EXPECT_EQ(page.error().message, "line 2: 9 bytes, over the limit of 8");
}

TEST(ParserLimitsTest, RejectsMoreThanMaxSamples) {
  EXPECT_TRUE(ParseText("a 1\nb 2\n", ParseLimits{.max_samples = 2}));
  Result<ParsedPage> page = ParseText("a 1\nb 2\nc 3\n", ParseLimits{.max_samples = 2});
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().code, Errc::kResourceExhausted);
  EXPECT_EQ(page.error().message, "line 3: more than 2 samples");
}

TEST(ParserLimitsTest, RejectsMoreThanMaxLabelPairs) {
  EXPECT_TRUE(ParseText("a{x=\"1\",y=\"2\"} 1\n", ParseLimits{.max_label_pairs = 2}));
  Result<ParsedPage> page =
      ParseText("a{x=\"1\",y=\"2\",z=\"3\"} 1\n", ParseLimits{.max_label_pairs = 2});
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().code, Errc::kResourceExhausted);
  EXPECT_EQ(page.error().message, "line 1: sample has more than 2 label pairs");
}

TEST(ParserLimitsTest, RejectsMoreThanMaxFamilies) {
  Result<ParsedPage> page = ParseText("a 1\n# TYPE b gauge\nc 1\n", ParseLimits{.max_families = 2});
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().message, "line 3: more than 2 metric families");
}

TEST(ParserLimitsTest, KeepsMaxErrorsButCountsThemAll) {
  std::string text = "ok 1\n";
  for (int i = 0; i < 10; ++i) text += "bad{\n";
  ParsedPage page = MustParse(text, ParseLimits{.max_errors = 3});
  EXPECT_EQ(page.errors().size(), 3u);
  EXPECT_EQ(page.error_count(), 10u);
  EXPECT_EQ(page.errors()[2].line, 4u);
}

TEST(ParserTest, MovedPageKeepsItsViewsValid) {
  ParsedPage moved;
  {
    ParsedPage page = MustParse("# HELP short h\nshort{a=\"b\\\\c\"} 1\n");
    moved = std::move(page);
  }
  const ParsedFamily* family = moved.Find("short");
  ASSERT_NE(family, nullptr);
  EXPECT_EQ(family->help(), "h");
  EXPECT_EQ(family->samples()[0].LabelValue("a"), "b\\c");
}

TEST(ParserTest, SurvivesPathologicalInput) {
  const std::string inputs[] = {
      std::string(10000, '{'),
      "a{" + std::string(10000, '\\'),
      "a{x=\"" + std::string(10001, '\\') + "\"} 1",
      std::string("a\0b 1\nc 2", 9),
      std::string(5000, '\n') + "x 1",
      "# HELP " + std::string(5000, 'a') + " " + std::string(5000, '\\'),
      "a{x=\"\xff\xfe\"} \xff",
      "a_bucket{le=\"garbage\"} 1\n# TYPE a histogram\n",
  };
  for (const std::string& input : inputs) {
    Result<ParsedPage> page = ParseText(input);
    if (page) {
      for (const ParsedFamily& f : page->families()) {
        (void)f.Sum({});
        (void)f.ReadHistogram({});
      }
    }
  }
  ParsedPage page = MustParse(std::string("a\0b 1\nc 2", 9));
  EXPECT_EQ(page.errors()[0].ToString(), "line 1: invalid character '\\x00' in metric name");
  EXPECT_EQ(page.Find("c")->Value({}), 2);
}

TEST(ReadHistogramTest, MergesEqualBoundsAcrossSeriesAndSkipsUnparsableLe) {
  ParsedPage page = MustParse(
      "# TYPE h histogram\n"
      "h_bucket{pod=\"a\",le=\"1.0\"} 1\nh_bucket{pod=\"a\",le=\"+Inf\"} 2\n"
      "h_sum{pod=\"a\"} 3\nh_count{pod=\"a\"} 2\n"
      "h_bucket{pod=\"b\",le=\"1\"} 4\nh_bucket{pod=\"b\",le=\"2\"} 5\n"
      "h_bucket{pod=\"b\",le=\"+Inf\"} 6\nh_bucket{pod=\"b\",le=\"oops\"} 9\n"
      "h_bucket{pod=\"b\"} 9\nh_sum{pod=\"b\"} 10\nh_count{pod=\"b\"} 6\n");
  std::optional<HistogramData> h = page.Find("h")->ReadHistogram({});
  ASSERT_TRUE(h);
  ASSERT_EQ(h->buckets.size(), 3u);
  EXPECT_EQ(h->buckets[0].upper_bound, 1);
  EXPECT_EQ(h->buckets[0].cumulative_count, 5);
  EXPECT_EQ(h->buckets[1].upper_bound, 2);
  EXPECT_EQ(h->buckets[1].cumulative_count, 5);
  EXPECT_EQ(h->buckets[2].upper_bound, kInf);
  EXPECT_EQ(h->buckets[2].cumulative_count, 8);
  EXPECT_EQ(h->sum, 13);
  EXPECT_EQ(h->count, 8);
  EXPECT_EQ(page.Find("h")->ReadHistogram({{"pod", "c"}}), std::nullopt);
}

HistogramData MakeHistogram(std::vector<std::pair<double, double>> buckets) {
  HistogramData h;
  for (const auto& [bound, count] : buckets) h.buckets.push_back({bound, count});
  h.count = h.buckets.empty() ? 0 : h.buckets.back().cumulative_count;
  return h;
}

TEST(QuantileTest, FollowsPromQLHistogramQuantile) {
  const HistogramData h = MakeHistogram({{1, 10}, {2, 30}, {4, 40}, {kInf, 40}});
  EXPECT_DOUBLE_EQ(h.Quantile(0.25), 1.0);   // rank 10: end of the first bucket
  EXPECT_DOUBLE_EQ(h.Quantile(0.125), 0.5);  // rank 5: interpolated from 0
  EXPECT_DOUBLE_EQ(h.Quantile(0.5), 1 + 1 * (20.0 - 10) / 20);
  EXPECT_DOUBLE_EQ(h.Quantile(1), 4);
  EXPECT_DOUBLE_EQ(h.Quantile(0), 0);
  EXPECT_EQ(h.Quantile(-0.1), -kInf);
  EXPECT_EQ(h.Quantile(1.1), kInf);
  EXPECT_TRUE(std::isnan(h.Quantile(std::nan(""))));
}

TEST(QuantileTest, ReturnsTheHighestFiniteBoundWhenTheRankIsInTheInfBucket) {
  EXPECT_DOUBLE_EQ(MakeHistogram({{1, 1}, {2, 2}, {kInf, 10}}).Quantile(0.9), 2);
}

TEST(QuantileTest, ReturnsTheFirstBoundWhenItIsNotPositive) {
  EXPECT_DOUBLE_EQ(MakeHistogram({{-1, 5}, {0, 8}, {kInf, 10}}).Quantile(0.2), -1);
}

TEST(QuantileTest, IsNaNWithoutInfBucketTooFewBucketsOrObservations) {
  EXPECT_TRUE(std::isnan(MakeHistogram({{1, 1}, {2, 2}}).Quantile(0.5)));
  EXPECT_TRUE(std::isnan(MakeHistogram({{kInf, 3}}).Quantile(0.5)));
  EXPECT_TRUE(std::isnan(MakeHistogram({{1, 0}, {kInf, 0}}).Quantile(0.5)));
  EXPECT_TRUE(std::isnan(MakeHistogram({}).Quantile(0.5)));
}

TEST(QuantileTest, ForcesCountsMonotonic) {
  // A bucket scraped lower than the one before it counts as equal to it.
  const HistogramData h = MakeHistogram({{1, 10}, {2, 8}, {4, 20}, {kInf, 20}});
  EXPECT_DOUBLE_EQ(h.Quantile(0.5), 1.0);
  EXPECT_DOUBLE_EQ(h.Quantile(0.75), 2 + 2 * (15.0 - 10) / 10);
}

}  // namespace
}  // namespace brix::metrics
