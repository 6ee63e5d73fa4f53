// Registry: the metric families a Brix process exports on /metrics (counters, gauges,
// histograms, and callback families evaluated at scrape time).
//
//   Registry registry;
//   auto* requests = registry.AddCounter({.name = "brix_requests_total",
//                                         .help = "Requests received.",
//                                         .label_names = {"model", "code"}}).value();
//   std::shared_ptr<Counter> ok = requests->WithLabels({"llama-3-8b", "200"});  // cache this
//   ok->Inc();                                                     // hot path: one atomic add
//
// Family lookups take a mutex and are meant for set-up or for the first request of a label set;
// the handles they return are what the request path keeps. Handles stay valid after their child
// is removed (the updates then go nowhere) and even after the Registry is destroyed.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "metrics/types.h"

namespace brix::metrics {

// What every family is registered with.
struct FamilyOptions {
  // [a-zA-Z_:][a-zA-Z0-9_:]*. By convention counters end in "_total" and carry their unit
  // ("_seconds", "_bytes").
  std::string name;
  // Free text for the `# HELP` line; may be empty (then no HELP line is written).
  std::string help;
  // Label names, each [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", all distinct, and not "le"
  // for histograms. Fixed for the family's lifetime: every child supplies one value per name, in
  // this order, and samples are rendered with labels in this order.
  std::vector<std::string> label_names;
};

// A point-in-time copy of one family, produced by Registry::Collect for the exposition writer.
struct FamilySnapshot {
  struct Series {
    // One value per label name, in the family's label order.
    std::vector<std::string> label_values;
    // Counter, gauge: the value.
    double value = 0;
    // Histogram: cumulative counts, one per bucket bound and then one for +Inf, which is the
    // histogram's count. Taken in one pass, so the +Inf entry always equals the count.
    std::vector<uint64_t> cumulative_counts;
    // Histogram: the sum of observations. Read separately from the buckets, so it may include
    // an observation whose bucket increment the counts do not show yet (or the reverse).
    double sum = 0;
  };

  std::string name;
  std::string help;
  MetricType type = MetricType::kUntyped;
  std::vector<std::string> label_names;
  // Histogram only: the finite bucket upper bounds, strictly increasing.
  std::vector<double> bucket_bounds;
  // Sorted by label values; no two series have the same label values.
  std::vector<Series> series;
};

// A value that only goes up. Owned jointly by its family and the handles given out; any thread
// may update or read it.
//
// Integral increments (Inc, and Add of whole numbers) go to a uint64 with one relaxed fetch_add,
// which stays a single `lock xadd` however contended; only fractional Add()s pay for a CAS loop
// on a separate double. Value() is the sum of the two.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds `n`.
  void Inc(uint64_t n = 1) { whole_.fetch_add(n, std::memory_order_relaxed); }
  // Adds `v`. A counter never decreases: negative and NaN values are ignored.
  void Add(double v);
  double Value() const;

 private:
  std::atomic<uint64_t> whole_{0};
  std::atomic<double> fraction_{0};
};

// A value that goes up and down. Owned jointly by its family and the handles given out; any
// thread may update or read it.
//
// One std::atomic<double>: Set is a relaxed store, Add a relaxed fetch_add (a CAS loop in
// practice). A fixed-point integer would make Add a plain `lock xadd` but needs a scale per
// gauge; gauges hold fractions (KV-cache usage) as well as counts, and Set and Add must act on one
// word to stay linearizable, so the double wins.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Inc() { Add(1); }
  void Dec() { Add(-1); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A distribution over fixed buckets. Owned jointly by its family and the handles given out; any
// thread may observe or read it.
//
// Observe() is a binary search over the bounds, one relaxed fetch_add on the bucket's own
// (non-cumulative) count and one relaxed fetch_add on the double sum. The count is not stored:
// readers derive it from the buckets, which is what keeps `_count` equal to the `+Inf` bucket.
class Histogram {
 public:
  // `bucket_bounds`: finite, strictly increasing upper bounds (+Inf is implicit).
  explicit Histogram(std::span<const double> bucket_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Counts `v` in the first bucket whose bound is >= v. NaN lands in the +Inf bucket and makes
  // the sum NaN, as in Prometheus' own clients.
  void Observe(double v);

  std::span<const double> bucket_bounds() const { return bounds_; }
  // Cumulative counts, bucket_bounds().size() + 1 entries; the last one (+Inf) is Count().
  std::vector<uint64_t> CumulativeCounts() const;
  uint64_t Count() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  // bounds_.size() + 1 per-bucket counts; the last is for values above every bound.
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Bounds `start, start + width, ...` (`count` of them). Requires width > 0 and count >= 1.
std::vector<double> LinearBuckets(double start, double width, size_t count);
// Bounds `start, start * factor, ...` (`count` of them). Requires start > 0, factor > 1 and
// count >= 1.
std::vector<double> ExponentialBuckets(double start, double factor, size_t count);

class Registry;
class SampleSink;

namespace internal {

// Only the Registry can make one, so only the Registry can construct families.
class RegistryKey {
 private:
  RegistryKey() = default;
  friend class ::brix::metrics::Registry;
};

// What the Registry keeps for each family, whatever its kind. Immutable metadata; the series
// are the subclass's business.
class FamilyBase {
 public:
  FamilyBase(MetricType type, FamilyOptions options, std::vector<double> bucket_bounds);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  MetricType type() const { return type_; }
  const std::string& name() const { return options_.name; }
  const std::string& help() const { return options_.help; }
  const std::vector<std::string>& label_names() const { return options_.label_names; }
  // Histograms only: the finite bucket bounds.
  const std::vector<double>& bucket_bounds() const { return bucket_bounds_; }

  // A snapshot of the family: metadata and every current series, sorted by label values.
  FamilySnapshot Snapshot() const;
  // False once a callback family has been unregistered; the Registry then forgets it.
  virtual bool active() const { return true; }

 protected:
  // Appends the current series to `out.series` (whose metadata is filled in), sorted by label
  // values and without duplicates.
  virtual void CollectSeries(FamilySnapshot& out) const = 0;

 private:
  const MetricType type_;
  const FamilyOptions options_;
  const std::vector<double> bucket_bounds_;
};

class CallbackFamily;

}  // namespace internal

// The labelled children of one counter, gauge or histogram family. Owned by the Registry, which
// hands out pointers that stay valid for its lifetime. Thread-safe: lookups, removals and scrapes
// may run concurrently from any thread.
template <typename Metric>
class Family final : public internal::FamilyBase {
 public:
  Family(internal::RegistryKey, MetricType type, FamilyOptions options,
         std::vector<double> bucket_bounds);

  // The child for `label_values` (one per label name, in order; a count mismatch is a bug and
  // fails a BRIX_CHECK), created at zero on first use. Values that are not valid UTF-8 are
  // repaired (invalid bytes become U+FFFD) so that a hostile value cannot break the scrape.
  // Callers cache the handle; this call takes the family's mutex.
  std::shared_ptr<Metric> WithLabels(std::span<const std::string_view> label_values);
  std::shared_ptr<Metric> WithLabels(std::initializer_list<std::string_view> label_values) {
    return WithLabels(std::span(label_values.begin(), label_values.size()));
  }

  // Stops exporting the child for `label_values` (e.g. an endpoint went away). Returns whether
  // it existed. Handles to it stay usable but are no longer rendered; a later WithLabels() with
  // the same values starts a new child at zero.
  bool Remove(std::span<const std::string_view> label_values);
  bool Remove(std::initializer_list<std::string_view> label_values) {
    return Remove(std::span(label_values.begin(), label_values.size()));
  }

  // Number of children currently exported.
  size_t size() const;

 private:
  struct Node;
  // Orders nodes by label values; transparent so that lookups by a span of string_views do not
  // allocate.
  struct NodeLess {
    using is_transparent = void;
    bool operator()(const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) const;
    bool operator()(const std::shared_ptr<Node>& a, std::span<const std::string_view> b) const;
    bool operator()(std::span<const std::string_view> a, const std::shared_ptr<Node>& b) const;
  };

  void CollectSeries(FamilySnapshot& out) const override;

  mutable std::mutex mu_;
  std::set<std::shared_ptr<Node>, NodeLess> children_;  // guarded by mu_
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// Receives the series of a callback family while it is being collected. Created by the Registry
// for one call of the callback; used only on the thread running that call.
class SampleSink {
 public:
  SampleSink(const SampleSink&) = delete;
  SampleSink& operator=(const SampleSink&) = delete;

  // Adds one series. `label_values` has one value per label name, in order (a count mismatch is
  // a bug and fails a BRIX_CHECK); invalid UTF-8 is repaired as in Family::WithLabels. If two
  // series have the same label values, the first one added is kept.
  void Add(std::span<const std::string_view> label_values, double value);
  void Add(std::initializer_list<std::string_view> label_values, double value) {
    Add(std::span(label_values.begin(), label_values.size()), value);
  }

 private:
  friend class internal::CallbackFamily;
  explicit SampleSink(FamilySnapshot& out) : out_(out) {}

  FamilySnapshot& out_;
};

// Called at scrape time, on the scraping thread, to report a callback family's series. It must
// be thread-safe with respect to whatever it reads, must not call into the Registry, and must not
// reset its own CallbackRegistration.
using CollectCallback = std::function<void(SampleSink&)>;

// Adapts a function returning one value into the callback of an unlabelled family.
CollectCallback SingleValue(std::function<double()> value);

// Keeps a callback family registered: destroying or Reset()ing it unregisters the family, after
// which its name may be registered again. Move-only; owned by whoever owns the values the callback
// reads, so that the callback cannot outlive them. It may outlive the Registry. Any thread.
class CallbackRegistration {
 public:
  CallbackRegistration() = default;
  CallbackRegistration(internal::RegistryKey, std::shared_ptr<internal::CallbackFamily> family);
  CallbackRegistration(CallbackRegistration&&) noexcept = default;
  CallbackRegistration& operator=(CallbackRegistration&& other) noexcept;
  ~CallbackRegistration();

  // Unregisters the family. When it returns, the callback is not running and never runs again
  // (it waits for a scrape that is running the callback).
  void Reset();
  bool registered() const { return family_ != nullptr; }

 private:
  std::shared_ptr<internal::CallbackFamily> family_;
};

// The set of metric families one process exports. Created by main and passed to components by
// reference; not a global. Thread-safe: registration, child lookups, updates and Collect() may
// run concurrently on any threads. Families live as long as the Registry.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family, or returns the existing one if a family with the same name, type, help,
  // label names (and bucket bounds) exists already. Errors:
  //   InvalidArgument: a name breaks Prometheus' rules, a label name is repeated or reserved
  //     ("__*", and "le" for histograms), or the bucket bounds are not finite and increasing.
  //   AlreadyExists: the name, or one of the sample names the family renders (a histogram
  //     renders name_bucket, name_sum and name_count), is taken by a different family.
  // For unlabelled families the single child exists from the start, so it renders 0 at once.
  Result<CounterFamily*> AddCounter(FamilyOptions options);
  Result<GaugeFamily*> AddGauge(FamilyOptions options);
  // `bucket_bounds`: finite, strictly increasing; a trailing +Inf is accepted and dropped. May be
  // empty (a single +Inf bucket).
  Result<HistogramFamily*> AddHistogram(FamilyOptions options, std::vector<double> bucket_bounds);

  // Registers a family whose series are reported by `collect` at every scrape, for values owned
  // elsewhere (queue lengths, pool sizes). The family is exported until the returned registration
  // is reset or destroyed. Same errors as above; a callback family never matches an existing one.
  Result<CallbackRegistration> AddCallbackGauge(FamilyOptions options, CollectCallback collect);
  Result<CallbackRegistration> AddCallbackCounter(FamilyOptions options, CollectCallback collect);

  // Snapshots every family that has at least one series, in name order. Callback families are
  // evaluated here, on the calling thread.
  std::vector<FamilySnapshot> Collect() const;

 private:
  template <typename Metric>
  Result<Family<Metric>*> AddFamily(MetricType type, FamilyOptions options,
                                    std::vector<double> bucket_bounds);
  Result<CallbackRegistration> AddCallback(MetricType type, FamilyOptions options,
                                           CollectCallback collect);
  // Inserts `family`, or returns the registered family of the same name if `reuse_equal` and it
  // has the same definition (dynamic type, metric type, help, labels, buckets).
  Result<std::shared_ptr<internal::FamilyBase>> Insert(std::shared_ptr<internal::FamilyBase> family,
                                                       bool reuse_equal);
  // Forgets callback families whose registration was reset. Requires mu_.
  void PurgeInactiveLocked();

  mutable std::mutex mu_;
  // By name; guarded by mu_.
  std::map<std::string, std::shared_ptr<internal::FamilyBase>, std::less<>> families_;
  // Every sample name a family renders -> that family's name; guarded by mu_.
  std::map<std::string, std::string, std::less<>> sample_names_;
};

}  // namespace brix::metrics
