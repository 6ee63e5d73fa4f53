// What a benchmark run measured, summarised for people and machines. Pure: `brix bench` fills
// RequestRecords from real responses, the virtual-time cluster simulator from simulated ones, and
// both get the same percentiles, goodput, time series, table, JSON and SVG plots.
//
//   std::vector<RequestRecord> records = ...;          // one per request the workload scheduled
//   Summary s = Summarize(records, itl_histogram, {.ttft_s = 2.0, .itl_s = 0.1});
//   fmt::print("{}", FormatTable(s));
//   WriteFile("report.json", boost::json::serialize(ToJson(s, records)));
//
// Accounting: every scheduled request is exactly one of ok, failed, aborted (in flight when the
// run was interrupted) or not sent (never written: interrupted before its time, or an earlier
// turn of its session failed). sent = ok + failed + aborted. Summarize() checks it.
//
// Times are seconds since the run started, on one monotonic clock.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "report/histogram.h"

namespace brix::report {

enum class Outcome { kOk, kFailed, kAborted, kNotSent };
std::string_view OutcomeName(Outcome outcome);  // "ok", "failed", "aborted", "not_sent"

struct RequestRecord {
  uint64_t session = 0;
  int turn = 0;
  double scheduled_s = 0;     // when the workload said to send it
  double sent_s = -1;         // when it was written (< 0: never)
  double first_token_s = -1;  // first chunk carrying output (< 0: none)
  double end_s = -1;          // answer complete, or the failure seen (< 0: never sent)
  Outcome outcome = Outcome::kNotSent;
  int status = 0;              // HTTP status; 0 when no response header came
  std::string error;           // short reason when not ok, e.g. "HTTP 503: no healthy endpoint"
  int64_t input_tokens = 0;    // usage.prompt_tokens (else the tokens the workload asked for)
  int64_t output_tokens = 0;   // usage.completion_tokens (else chunks counted)
  int64_t cached_tokens = -1;  // usage.prompt_tokens_details.cached_tokens (< 0: not reported)
  int64_t chunks = 0;          // chunks carrying output
  double max_itl_s = 0;        // largest gap between two such chunks
  int attempts = 0;            // endpoints the gateway tried (x-brix-attempt-count); 0 unknown
  std::string replica;         // the target-pod response header, when present

  double ttft_s() const { return first_token_s - sent_s; }
  double e2e_s() const { return end_s - sent_s; }
  // Mean time per output token after the first (vLLM's TPOT); 0 with fewer than two tokens.
  double tpot_s() const;
};

// A service-level objective per request; unset bounds are not checked. `itl_s` bounds the
// request's mean inter-token latency (TPOT), as vLLM's and DistServe's goodput do.
struct Slo {
  std::optional<double> ttft_s;
  std::optional<double> itl_s;
  std::optional<double> e2e_s;
  bool Met(const RequestRecord& r) const;
  std::string ToString() const;  // "ttft<=2s itl<=100ms", or "none"
};

struct Distribution {
  size_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

// Requests per time bucket, for throughput-over-time plots.
struct Bucket {
  double start_s = 0;
  size_t sent = 0;
  size_t completed = 0;  // ok requests that ended in the bucket
  size_t failed = 0;
  double output_tokens = 0;  // spread evenly over each request's [first token, end]
  double ttft_p50_s = 0;     // of requests sent in the bucket (0 when none)
};

// Engine-side numbers from the engines' own /metrics histograms (difference over the run), for
// comparing what the client saw with what the servers saw.
struct ServerSide {
  std::string name;  // e.g. "vllm:time_to_first_token_seconds (4 engines)"
  double count = 0;
  double mean = 0;
  double p50 = 0, p90 = 0, p99 = 0;  // histogram_quantile-style estimates
};

struct Summary {
  std::string workload;  // description of what was replayed
  std::string target;    // where it was sent
  Slo slo;
  size_t scheduled = 0, sent = 0, ok = 0, failed = 0, aborted = 0, not_sent = 0;
  bool interrupted = false;
  std::map<std::string, size_t> errors;  // reason -> count
  size_t retried = 0;                    // ok or failed requests with attempts > 1
  size_t peak_in_flight = 0;             // most requests sent and not yet ended at one time
  double duration_s = 0;                 // first send to last end
  Distribution ttft_s, itl_s, tpot_s, e2e_s;
  int64_t input_tokens = 0, output_tokens = 0;
  double request_rate = 0;      // ok per second of duration
  double input_token_rate = 0;  // of ok requests
  double output_token_rate = 0;
  size_t good = 0;     // ok and within the SLO
  double goodput = 0;  // good per second
  // The generator: how late requests went out relative to their schedule.
  Distribution lag_s;
  size_t late = 0;                         // sent more than kLateSeconds after their time
  bool fell_behind = false;                // more than 1% late
  std::map<std::string, size_t> replicas;  // target-pod -> ok + failed requests
  std::vector<Bucket> timeline;
  std::vector<ServerSide> server;
};

// A request sent later than this after its scheduled time is late. 50 ms: well above what a busy
// machine's scheduler costs a waiting thread (a few ms), well below the latencies measured.
inline constexpr double kLateSeconds = 0.050;

// `itl` holds every inter-chunk gap of the run (RequestRecord keeps only the largest).
Summary Summarize(std::span<const RequestRecord> records, const LatencyHistogram& itl,
                  const Slo& slo);

// A table for a terminal, ending in a newline.
std::string FormatTable(const Summary& summary);

// The summary; with `records`, also one object per request under "per_request".
boost::json::object ToJson(const Summary& summary, std::span<const RequestRecord> records = {});

// SVG documents: latency CDFs (TTFT, ITL, end-to-end; log time axis), each request's TTFT against
// when it was sent, output tokens per second over time, and requests sent/completed/failed per
// second over time.
std::string LatencyCdfSvg(std::span<const RequestRecord> records, const LatencyHistogram& itl);
std::string TtftOverTimeSvg(std::span<const RequestRecord> records);
std::string ThroughputSvg(const Summary& summary);
std::string RequestsSvg(const Summary& summary);

}  // namespace brix::report
