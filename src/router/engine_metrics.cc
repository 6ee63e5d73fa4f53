#include "router/engine_metrics.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace brix::router {
namespace {

using metrics::LabelPair;
using metrics::ParsedFamily;
using metrics::ParsedPage;
using metrics::ParsedSample;
using metrics::SampleRole;

enum class Combine { kSum, kMean };

// Labels that tell apart the ranks of one scheduler, which all report the same numbers.
bool IsRankLabel(std::string_view name) { return name == "tp_rank" || name == "pp_rank"; }

// A key for `sample`'s labels without the rank labels, independent of their order. Length
// prefixes keep it unambiguous whatever bytes label values hold.
std::string SeriesKey(const ParsedSample& sample) {
  std::vector<LabelPair> labels;
  labels.reserve(sample.labels.size());
  for (const LabelPair& l : sample.labels) {
    if (!IsRankLabel(l.name)) labels.push_back(l);
  }
  std::sort(labels.begin(), labels.end(), [](const LabelPair& a, const LabelPair& b) {
    return a.name != b.name ? a.name < b.name : a.value < b.value;
  });
  std::string key;
  for (const LabelPair& l : labels) {
    key += std::to_string(l.name.size()) + ':' + std::string(l.name);
    key += std::to_string(l.value.size()) + ':' + std::string(l.value);
  }
  return key;
}

bool HasRankLabel(const ParsedSample& sample) {
  return std::any_of(sample.labels.begin(), sample.labels.end(),
                     [](const LabelPair& l) { return IsRankLabel(l.name); });
}

// Sum or mean of `family`'s value samples, one per series once rank labels are ignored.
std::optional<double> Aggregate(const ParsedFamily& family, Combine combine) {
  double total = 0;
  size_t n = 0;
  // Only pages with rank labels need the bookkeeping; vLLM's never have them.
  std::unordered_set<std::string> seen;
  for (const ParsedSample& s : family.samples()) {
    if (s.role != SampleRole::kValue || std::isnan(s.value)) continue;
    if (HasRankLabel(s) && !seen.insert(SeriesKey(s)).second) continue;
    total += s.value;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return combine == Combine::kSum ? total : total / static_cast<double>(n);
}

// The first of `names` that the page has, aggregated; nullopt if it has none of them or the
// family found has no usable sample.
std::optional<double> Read(const ParsedPage& page, std::initializer_list<std::string_view> names,
                           Combine combine) {
  for (std::string_view name : names) {
    if (const ParsedFamily* family = page.Find(name)) return Aggregate(*family, combine);
  }
  return std::nullopt;
}

}  // namespace

EngineMetrics EngineMetricsFromPage(const ParsedPage& page) {
  constexpr Combine kSum = Combine::kSum;
  constexpr Combine kMean = Combine::kMean;
  EngineMetrics m;
  m.running = Read(page, {"vllm:num_requests_running", "sglang:num_running_reqs"}, kSum);
  m.waiting = Read(page, {"vllm:num_requests_waiting", "sglang:num_queue_reqs"}, kSum);
  m.kv_cache_usage = Read(
      page, {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage"}, kMean);
  m.cpu_cache_usage = Read(page, {"vllm:cpu_cache_usage_perc"}, kMean);
  m.prompt_tokens = Read(page, {"vllm:prompt_tokens_total", "sglang:prompt_tokens_total"}, kSum);
  m.generation_tokens =
      Read(page, {"vllm:generation_tokens_total", "sglang:generation_tokens_total"}, kSum);
  m.preemptions = Read(page, {"vllm:num_preemptions_total"}, kSum);
  m.requests_finished =
      Read(page, {"vllm:request_success_total", "sglang:num_requests_total"}, kSum);
  m.prefix_cache_hit_rate =
      Read(page, {"vllm:gpu_prefix_cache_hit_rate", "sglang:cache_hit_rate"}, kMean);

  m.prefix_cache_queries =
      Read(page, {"vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"}, kSum);
  m.prefix_cache_hits =
      Read(page, {"vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"}, kSum);
  if (!m.prefix_cache_queries && !m.prefix_cache_hits) {
    // SGLang counts cached prompt tokens; over all prompt tokens that is the same token-level
    // hit rate as vLLM's hits / queries.
    m.prefix_cache_hits = Read(page, {"sglang:cached_tokens_total"}, kSum);
    if (m.prefix_cache_hits) {
      m.prefix_cache_queries = Read(page, {"sglang:prompt_tokens_total"}, kSum);
    }
  }
  return m;
}

}  // namespace brix::router
