#include "router/engine_metrics.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace brix::router {
namespace {

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(BRIX_METRICS_TESTDATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open metrics/testdata/" << name;
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

EngineMetrics FromText(const std::string& text) {
  Result<metrics::ParsedPage> page = metrics::ParseText(text);
  EXPECT_TRUE(page.has_value()) << page.error().ToString();
  if (!page) return {};
  EXPECT_EQ(page->error_count(), 0u);
  return EngineMetricsFromPage(*page);
}

TEST(EngineMetricsTest, ReadsAVllmV1PageWithTwoDataParallelEngines) {
  const EngineMetrics m = FromText(ReadTestdata("vllm_v1_metrics.txt"));
  EXPECT_EQ(m.running, 2 + 3);
  EXPECT_EQ(m.waiting, 0 + 1);
  ASSERT_TRUE(m.kv_cache_usage);
  EXPECT_DOUBLE_EQ(*m.kv_cache_usage, (0.0734375 + 0.11953125) / 2);  // mean, not sum
  EXPECT_EQ(m.cpu_cache_usage, std::nullopt);                         // gone in V1
  EXPECT_EQ(m.prefix_cache_queries, 182934 + 177204);
  EXPECT_EQ(m.prefix_cache_hits, 96112 + 90880);
  EXPECT_EQ(m.prompt_tokens, 182934 + 177204);
  EXPECT_EQ(m.generation_tokens, 61440 + 59137);
  EXPECT_EQ(m.preemptions, 0 + 2);  // the `_created` samples are not counted
  EXPECT_EQ(m.requests_finished, 1 + 12 + 247 + 0 + 9 + 251);  // every finished_reason
  EXPECT_EQ(m.prefix_cache_hit_rate, std::nullopt);
}

TEST(EngineMetricsTest, ReadsAnSglangPageCountingEachSchedulerOnceAcrossTpRanks) {
  const EngineMetrics m = FromText(ReadTestdata("sglang_metrics.txt"));
  EXPECT_EQ(m.running, 14);  // reported by tp_rank 0 and 1 alike
  EXPECT_EQ(m.waiting, 3);
  EXPECT_EQ(m.kv_cache_usage, 0.37);
  EXPECT_EQ(m.cpu_cache_usage, std::nullopt);
  EXPECT_EQ(m.prompt_tokens, 8841239);
  EXPECT_EQ(m.generation_tokens, 2210431);
  EXPECT_EQ(m.prefix_cache_queries, 8841239);  // all prompt tokens ...
  EXPECT_EQ(m.prefix_cache_hits, 3647011);     // ... of which served from the cache
  EXPECT_EQ(m.prefix_cache_hit_rate, 0.4125);
  EXPECT_EQ(m.preemptions, std::nullopt);
  EXPECT_EQ(m.requests_finished, 9120);
}

TEST(EngineMetricsTest, SumsSglangDataParallelRanks) {
  const EngineMetrics m = FromText(
      "sglang:num_running_reqs{dp_rank=\"0\",tp_rank=\"0\"} 4\n"
      "sglang:num_running_reqs{dp_rank=\"0\",tp_rank=\"1\"} 4\n"
      "sglang:num_running_reqs{dp_rank=\"1\",tp_rank=\"2\"} 6\n"
      "sglang:num_running_reqs{dp_rank=\"1\",tp_rank=\"3\"} 6\n"
      "sglang:token_usage{dp_rank=\"0\",tp_rank=\"0\"} 0.2\n"
      "sglang:token_usage{dp_rank=\"1\",tp_rank=\"2\"} 0.6\n");
  EXPECT_EQ(m.running, 10);
  ASSERT_TRUE(m.kv_cache_usage);
  EXPECT_DOUBLE_EQ(*m.kv_cache_usage, 0.4);
}

TEST(EngineMetricsTest, FallsBackToVllmV0NamesAndReadsCpuCacheUsage) {
  const EngineMetrics m = FromText(
      "# TYPE vllm:gpu_cache_usage_perc gauge\n"
      "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.25\n"
      "# TYPE vllm:cpu_cache_usage_perc gauge\n"
      "vllm:cpu_cache_usage_perc{model_name=\"m\"} 0.5\n"
      "# TYPE vllm:gpu_prefix_cache_hit_rate gauge\n"
      "vllm:gpu_prefix_cache_hit_rate{model_name=\"m\"} 0.75\n"
      "# TYPE vllm:num_requests_running gauge\n"
      "vllm:num_requests_running{model_name=\"m\"} 7.0\n");
  EXPECT_EQ(m.kv_cache_usage, 0.25);
  EXPECT_EQ(m.cpu_cache_usage, 0.5);
  EXPECT_EQ(m.prefix_cache_hit_rate, 0.75);
  EXPECT_EQ(m.running, 7);
  EXPECT_EQ(m.waiting, std::nullopt);
}

TEST(EngineMetricsTest, PrefersTheV1KvUsageNameWhenBothArePresent) {
  const EngineMetrics m = FromText(
      "vllm:gpu_cache_usage_perc 0.9\n"
      "vllm:kv_cache_usage_perc 0.1\n");
  EXPECT_EQ(m.kv_cache_usage, 0.1);
}

TEST(EngineMetricsTest, ReadsVllm08PrefixCacheCountersAndOpenMetricsStyleCounters) {
  const EngineMetrics m = FromText(
      "# TYPE vllm:gpu_prefix_cache_queries counter\n"
      "vllm:gpu_prefix_cache_queries_total{engine=\"0\"} 100\n"
      "# TYPE vllm:gpu_prefix_cache_hits counter\n"
      "vllm:gpu_prefix_cache_hits_total{engine=\"0\"} 40\n"
      "# TYPE vllm:prompt_tokens counter\n"
      "vllm:prompt_tokens_total{engine=\"0\"} 1000\n"
      "vllm:prompt_tokens_created{engine=\"0\"} 1.7e9\n");
  EXPECT_EQ(m.prefix_cache_queries, 100);
  EXPECT_EQ(m.prefix_cache_hits, 40);
  EXPECT_EQ(m.prompt_tokens, 1000);
}

TEST(EngineMetricsTest, SumsCountsAndAveragesUsageOverModels) {
  const EngineMetrics m = FromText(
      "vllm:num_requests_waiting{model_name=\"a\"} 2\n"
      "vllm:num_requests_waiting{model_name=\"b\"} 5\n"
      "vllm:kv_cache_usage_perc{model_name=\"a\"} 0.5\n"
      "vllm:kv_cache_usage_perc{model_name=\"b\"} 1.0\n");
  EXPECT_EQ(m.waiting, 7);
  EXPECT_EQ(m.kv_cache_usage, 0.75);
}

TEST(EngineMetricsTest, SkipsNanSamples) {
  const EngineMetrics m = FromText(
      "vllm:kv_cache_usage_perc{engine=\"0\"} NaN\n"
      "vllm:kv_cache_usage_perc{engine=\"1\"} 0.5\n"
      "vllm:num_requests_running NaN\n");
  EXPECT_EQ(m.kv_cache_usage, 0.5);
  EXPECT_EQ(m.running, std::nullopt);
}

TEST(EngineMetricsTest, LeavesEverythingUnsetForAPageOfOtherMetrics) {
  const EngineMetrics m = FromText("process_open_fds 12\nup 1\n");
  EXPECT_EQ(m.running, std::nullopt);
  EXPECT_EQ(m.waiting, std::nullopt);
  EXPECT_EQ(m.kv_cache_usage, std::nullopt);
  EXPECT_EQ(m.cpu_cache_usage, std::nullopt);
  EXPECT_EQ(m.prefix_cache_queries, std::nullopt);
  EXPECT_EQ(m.prefix_cache_hits, std::nullopt);
  EXPECT_EQ(m.prompt_tokens, std::nullopt);
  EXPECT_EQ(m.generation_tokens, std::nullopt);
  EXPECT_EQ(m.preemptions, std::nullopt);
  EXPECT_EQ(m.prefix_cache_hit_rate, std::nullopt);
}

TEST(EngineMetricsTest, SglangWithoutCachedTokensHasNoPrefixCounters) {
  const EngineMetrics m = FromText("sglang:prompt_tokens_total 10\n");
  EXPECT_EQ(m.prompt_tokens, 10);
  EXPECT_EQ(m.prefix_cache_queries, std::nullopt);
  EXPECT_EQ(m.prefix_cache_hits, std::nullopt);
}

}  // namespace
}  // namespace brix::router
