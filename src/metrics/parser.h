// Parser for the Prometheus text exposition format 0.0.4, for scraping inference engines (vLLM
// and SGLang serve prometheus_client output) and anything else that speaks it.
//
//   Result<ParsedPage> page = metrics::ParseText(body);
//   if (!page) return page.error();                 // a limit was exceeded, or nothing parsed
//   for (const LineError& e : page->errors()) log->debug("engine metrics: {}", e.ToString());
//   if (const ParsedFamily* running = page->Find("vllm:num_requests_running")) {
//     std::optional<double> n = running->Sum({{"model_name", model}});   // over all engines
//   }
//
// Besides 0.0.4 proper it accepts what real pages contain: families without TYPE lines
// (untyped), `_created` samples, counters declared without their `_total` suffix, the OpenMetrics
// type words and "# EOF", exemplars (skipped), CRLF line ends, a UTF-8 byte order mark, blanks
// and tabs around tokens, and trailing commas in label sets. Label values may use any escape:
// `\\`, `\"` and `\n` are decoded and other backslashes kept as written.
//
// Robustness: any input is safe. Time and memory are linear in the input; a line that does not
// parse is reported with its number and skipped, the rest of the page is kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "metrics/types.h"

namespace brix::metrics {

// Bounds on what one page may cost. Exceeding any of them fails the whole parse with
// ResourceExhausted: a page that big is a misconfigured or hostile target, not partial data.
struct ParseLimits {
  // Largest page, in bytes.
  size_t max_bytes = 16 * 1024 * 1024;
  // Longest line, in bytes, without its line break.
  size_t max_line_length = 64 * 1024;
  // Most samples in a page.
  size_t max_samples = 200'000;
  // Most label pairs on one sample (`le` and `quantile` included).
  size_t max_label_pairs = 64;
  // Most metric families (a vLLM page has about 60).
  size_t max_families = 20'000;
  // Most line errors kept in ParsedPage::errors(); later ones are only counted.
  size_t max_errors = 100;
};

// A line that did not parse and was skipped.
struct LineError {
  size_t line = 0;  // 1-based
  std::string message;

  // "line 17: expected '=' after label name"
  std::string ToString() const;
};

struct LabelPair {
  std::string_view name;
  std::string_view value;

  friend bool operator==(const LabelPair&, const LabelPair&) = default;
};

// What a sample is to its family, from its name's suffix.
enum class SampleRole {
  kValue,    // the value: gauge, untyped, counter (`x` or `x_total`), summary quantile
  kBucket,   // histogram `_bucket`
  kSum,      // histogram or summary `_sum` (OpenMetrics gauge histograms: `_gsum`)
  kCount,    // histogram or summary `_count` (OpenMetrics gauge histograms: `_gcount`)
  kCreated,  // `_created`: when the series was created, in seconds since the epoch
};

// One sample line. Views into the ParsedPage that holds it.
struct ParsedSample {
  std::string_view name;  // as written, e.g. "vllm:e2e_request_latency_seconds_bucket"
  SampleRole role = SampleRole::kValue;
  std::span<const LabelPair> labels;  // as written, unescaped
  double value = 0;
  std::optional<int64_t> timestamp_ms;

  // The value of the label called `label_name`, if the sample has one.
  std::optional<std::string_view> LabelValue(std::string_view label_name) const;
};

struct HistogramBucket {
  double upper_bound = 0;       // `le`
  double cumulative_count = 0;  // observations <= upper_bound
};

// A histogram read from a page, possibly merged from several series.
struct HistogramData {
  // Ascending by upper bound, one per distinct bound; the last is +Inf on well-formed pages.
  std::vector<HistogramBucket> buckets;
  double sum = 0;
  double count = 0;

  // Estimates the q-quantile (0 <= q <= 1) the way PromQL's histogram_quantile() does: linear
  // interpolation inside the bucket holding the rank, 0 as the lower edge of the first bucket
  // (if its bound is positive), the highest finite bound if the rank falls in +Inf, counts forced
  // monotonic. NaN if there is no +Inf bucket, fewer than two buckets, or no observations;
  // -Inf for q < 0 and +Inf for q > 1.
  double Quantile(double q) const;
};

namespace internal {
class PageBuilder;
}  // namespace internal

// One metric family of a parsed page: its metadata and its samples, in page order. Views into the
// ParsedPage that holds it; const, so any thread.
class ParsedFamily {
 public:
  std::string_view name() const { return name_; }
  // kUntyped when the page had no TYPE line for it.
  MetricType type() const { return type_; }
  // Unescaped; empty when the page had no HELP line for it.
  std::string_view help() const { return help_; }
  std::span<const ParsedSample> samples() const { return samples_; }

  // The value of the first kValue sample whose labels are exactly `labels` (in any order).
  std::optional<double> Value(std::span<const LabelPair> labels) const;
  std::optional<double> Value(std::initializer_list<LabelPair> labels) const {
    return Value(std::span(labels.begin(), labels.size()));
  }

  // The sum of the kValue samples whose labels include every pair in `matchers` (all of them for
  // no matchers); nullopt if none match. E.g. running requests of one model over all engines.
  std::optional<double> Sum(std::span<const LabelPair> matchers) const;
  std::optional<double> Sum(std::initializer_list<LabelPair> matchers) const {
    return Sum(std::span(matchers.begin(), matchers.size()));
  }

  // The `_bucket`, `_sum` and `_count` samples whose labels include every pair in `matchers`,
  // merged like PromQL's `sum by (le)`: counts of equal bounds add up. Buckets whose `le` does not
  // parse as a number are skipped. nullopt if no such sample matches. On a summary this yields its
  // sum and count without buckets.
  std::optional<HistogramData> ReadHistogram(std::span<const LabelPair> matchers) const;
  std::optional<HistogramData> ReadHistogram(std::initializer_list<LabelPair> matchers) const {
    return ReadHistogram(std::span(matchers.begin(), matchers.size()));
  }

 private:
  friend class internal::PageBuilder;

  std::string_view name_;
  MetricType type_ = MetricType::kUntyped;
  std::string_view help_;
  std::span<const ParsedSample> samples_;
};

// The result of parsing one page: families in page order, their samples, and the lines that did
// not parse. Owns the memory every view points into; move-only (moving keeps the views valid).
// Immutable, so any thread.
class ParsedPage {
 public:
  ParsedPage() = default;
  ParsedPage(ParsedPage&&) noexcept = default;
  ParsedPage& operator=(ParsedPage&&) noexcept = default;
  ParsedPage(const ParsedPage&) = delete;
  ParsedPage& operator=(const ParsedPage&) = delete;

  std::span<const ParsedFamily> families() const { return families_; }
  size_t sample_count() const { return samples_.size(); }

  // The family called `name`. Counters are found by either spelling: "x_total" also finds a
  // counter declared OpenMetrics-style as "x", and "x" a counter declared as "x_total".
  const ParsedFamily* Find(std::string_view name) const;

  // The first ParseLimits::max_errors line errors, in line order.
  std::span<const LineError> errors() const { return errors_; }
  // All line errors, including those not kept.
  size_t error_count() const { return error_count_; }

 private:
  friend class internal::PageBuilder;

  const ParsedFamily* FindExact(std::string_view name) const;

  std::unique_ptr<char[]> text_;  // the input, label values and HELP texts unescaped in place
  std::vector<LabelPair> labels_;
  std::vector<ParsedSample> samples_;  // grouped by family
  std::vector<ParsedFamily> families_;
  std::vector<std::pair<std::string_view, size_t>> index_;  // (name, family index), by name
  std::vector<LineError> errors_;
  size_t error_count_ = 0;
};

// Parses `text`. Errors:
//   ResourceExhausted: a ParseLimits bound was exceeded (the message names it and the line).
//   InvalidArgument: not one sample parsed but some line failed (e.g. an HTML error page); the
//     message is the first line error.
// Otherwise returns the page, with the lines that failed in ParsedPage::errors().
Result<ParsedPage> ParseText(std::string_view text, const ParseLimits& limits = {});

}  // namespace brix::metrics
