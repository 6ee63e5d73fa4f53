// Vocabulary shared by the registry, the exposition writer and the parser: metric types and the
// Prometheus naming rules.
#pragma once

#include <string_view>

namespace brix::metrics {

// The metric types of the Prometheus text format 0.0.4.
enum class MetricType {
  kCounter,
  kGauge,
  kHistogram,
  kSummary,
  kUntyped,
};

// The word used for `type` on a `# TYPE` line: "counter", "gauge", "histogram", "summary",
// "untyped".
std::string_view MetricTypeName(MetricType type);

// True if `name` matches [a-zA-Z_:][a-zA-Z0-9_:]* (colons are legal, e.g. vLLM's
// "vllm:num_requests_running").
bool IsValidMetricName(std::string_view name);

// True if `name` matches [a-zA-Z_][a-zA-Z0-9_]*. Names starting with "__" match too; the
// registry rejects them separately because Prometheus reserves them.
bool IsValidLabelName(std::string_view name);

}  // namespace brix::metrics
