#include "metrics/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <typeinfo>
#include <utility>

#include "base/check.h"

namespace brix::metrics {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
// U+10FFFF) that starts at s[i], or 0 if none does.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) second_min = 0xA0;  // overlong
    if (b0 == 0xED) second_max = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) second_min = 0x90;  // overlong
    if (b0 == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < length) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < second_min || b1 > second_max) return 0;
  for (size_t k = 2; k < length; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return length;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// `s` with every byte that does not start a well-formed sequence replaced by U+FFFD. Prometheus
// rejects a whole scrape over one invalid label value, and label values can come from requests.
std::string RepairUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += kReplacementCharacter;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// Label values as given when they are valid UTF-8, else repaired copies kept in `storage`.
std::span<const std::string_view> ValidLabelValues(std::span<const std::string_view> values,
                                                   std::vector<std::string>& storage,
                                                   std::vector<std::string_view>& views) {
  if (std::all_of(values.begin(), values.end(), IsValidUtf8)) return values;
  storage.reserve(values.size());
  views.reserve(values.size());
  for (std::string_view v : values) storage.push_back(RepairUtf8(v));
  for (const std::string& v : storage) views.push_back(v);
  return views;
}

template <typename A, typename B>
bool LexicographicallyLess(const A& a, const B& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](std::string_view x, std::string_view y) { return x < y; });
}

void SortAndDeduplicate(std::vector<FamilySnapshot::Series>& series) {
  const auto less = [](const FamilySnapshot::Series& a, const FamilySnapshot::Series& b) {
    return a.label_values < b.label_values;
  };
  std::stable_sort(series.begin(), series.end(), less);
  const auto same = [](const FamilySnapshot::Series& a, const FamilySnapshot::Series& b) {
    return a.label_values == b.label_values;
  };
  series.erase(std::unique(series.begin(), series.end(), same), series.end());
}

void CheckLabelCount(const internal::FamilyBase& family, size_t count) {
  BRIX_CHECK(count == family.label_names().size())
      << "metric '" << family.name() << "' has " << family.label_names().size()
      << " label names but got " << count << " label values";
}

Result<void> ValidateOptions(const FamilyOptions& options, MetricType type) {
  if (!IsValidMetricName(options.name)) {
    return InvalidArgument(
        fmt::format("invalid metric name '{}': must match [a-zA-Z_:][a-zA-Z0-9_:]*", options.name));
  }
  const std::vector<std::string>& labels = options.label_names;
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& label = labels[i];
    if (!IsValidLabelName(label)) {
      return InvalidArgument(
          fmt::format("metric '{}': invalid label name '{}': must match [a-zA-Z_][a-zA-Z0-9_]*",
                      options.name, label));
    }
    if (label.starts_with("__")) {
      return InvalidArgument(fmt::format(
          "metric '{}': label name '{}' is reserved (starts with \"__\")", options.name, label));
    }
    if (type == MetricType::kHistogram && label == "le") {
      return InvalidArgument(fmt::format(
          "metric '{}': label name 'le' is reserved for histogram buckets", options.name));
    }
    if (std::find(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(i), label) !=
        labels.begin() + static_cast<std::ptrdiff_t>(i)) {
      return InvalidArgument(
          fmt::format("metric '{}': label name '{}' is repeated", options.name, label));
    }
  }
  return {};
}

Result<std::vector<double>> NormalizeBucketBounds(std::string_view name,
                                                  std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      return InvalidArgument(
          fmt::format("histogram '{}': bucket bound {} is not finite", name, bounds[i]));
    }
    if (i > 0 && !(bounds[i] > bounds[i - 1])) {
      return InvalidArgument(
          fmt::format("histogram '{}': bucket bounds must be strictly increasing ({} after {})",
                      name, bounds[i], bounds[i - 1]));
    }
  }
  return bounds;
}

// Every sample name the exposition writer renders for `family`.
std::vector<std::string> SampleNames(const internal::FamilyBase& family) {
  if (family.type() == MetricType::kHistogram) {
    return {family.name() + "_bucket", family.name() + "_sum", family.name() + "_count"};
  }
  return {family.name()};
}

std::string Describe(const internal::FamilyBase& family) {
  return fmt::format("{} with labels [{}]", MetricTypeName(family.type()),
                     fmt::join(family.label_names(), ", "));
}

bool SameDefinition(const internal::FamilyBase& a, const internal::FamilyBase& b) {
  return typeid(a) == typeid(b) && a.type() == b.type() && a.help() == b.help() &&
         a.label_names() == b.label_names() && a.bucket_bounds() == b.bucket_bounds();
}

}  // namespace

// ---- Counter, Histogram, bucket helpers ----

void Counter::Add(double v) {
  if (!(v >= 0)) return;
  // Whole numbers below 2^53 are exact in a double and go to the uncontended integer path.
  constexpr double kExactIntegerLimit = 9007199254740992.0;
  if (v < kExactIntegerLimit && v == std::floor(v)) {
    whole_.fetch_add(static_cast<uint64_t>(v), std::memory_order_relaxed);
  } else {
    fraction_.fetch_add(v, std::memory_order_relaxed);
  }
}

double Counter::Value() const {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) +
         fraction_.load(std::memory_order_relaxed);
}

Histogram::Histogram(std::span<const double> bucket_bounds)
    : bounds_(bucket_bounds.begin(), bucket_bounds.end()),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bucket_bounds.size() + 1)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    BRIX_CHECK(std::isfinite(bounds_[i]) && (i == 0 || bounds_[i] > bounds_[i - 1]))
        << "histogram bucket bounds must be finite and strictly increasing";
  }
}

void Histogram::Observe(double v) {
  size_t bucket = bounds_.size();
  if (!std::isnan(v)) {
    bucket =
        static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  }
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> cumulative(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i < cumulative.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    cumulative[i] = running;
  }
  return cumulative;
}

uint64_t Histogram::Count() const { return CumulativeCounts().back(); }

std::vector<double> LinearBuckets(double start, double width, size_t count) {
  BRIX_CHECK(width > 0 && count >= 1) << "width " << width << " count " << count;
  std::vector<double> bounds(count);
  for (size_t i = 0; i < count; ++i) bounds[i] = start + width * static_cast<double>(i);
  return bounds;
}

std::vector<double> ExponentialBuckets(double start, double factor, size_t count) {
  BRIX_CHECK(start > 0 && factor > 1 && count >= 1)
      << "start " << start << " factor " << factor << " count " << count;
  std::vector<double> bounds(count);
  double bound = start;
  for (size_t i = 0; i < count; ++i, bound *= factor) bounds[i] = bound;
  return bounds;
}

// ---- FamilyBase, Family<Metric> ----

namespace internal {

FamilyBase::FamilyBase(MetricType type, FamilyOptions options, std::vector<double> bucket_bounds)
    : type_(type), options_(std::move(options)), bucket_bounds_(std::move(bucket_bounds)) {}

FamilySnapshot FamilyBase::Snapshot() const {
  FamilySnapshot snapshot;
  snapshot.name = name();
  snapshot.help = help();
  snapshot.type = type();
  snapshot.label_names = label_names();
  snapshot.bucket_bounds = bucket_bounds();
  CollectSeries(snapshot);
  return snapshot;
}

}  // namespace internal

template <typename Metric>
struct Family<Metric>::Node {
  template <typename... Args>
  explicit Node(std::span<const std::string_view> values, Args&&... args)
      : label_values(values.begin(), values.end()), metric(std::forward<Args>(args)...) {}

  const std::vector<std::string> label_values;
  Metric metric;
};

template <typename Metric>
bool Family<Metric>::NodeLess::operator()(const std::shared_ptr<Node>& a,
                                          const std::shared_ptr<Node>& b) const {
  return LexicographicallyLess(a->label_values, b->label_values);
}

template <typename Metric>
bool Family<Metric>::NodeLess::operator()(const std::shared_ptr<Node>& a,
                                          std::span<const std::string_view> b) const {
  return LexicographicallyLess(a->label_values, b);
}

template <typename Metric>
bool Family<Metric>::NodeLess::operator()(std::span<const std::string_view> a,
                                          const std::shared_ptr<Node>& b) const {
  return LexicographicallyLess(a, b->label_values);
}

template <typename Metric>
Family<Metric>::Family(internal::RegistryKey, MetricType type, FamilyOptions options,
                       std::vector<double> bucket_bounds)
    : FamilyBase(type, std::move(options), std::move(bucket_bounds)) {}

template <typename Metric>
std::shared_ptr<Metric> Family<Metric>::WithLabels(std::span<const std::string_view> label_values) {
  CheckLabelCount(*this, label_values.size());
  std::vector<std::string> repaired;
  std::vector<std::string_view> repaired_views;
  const std::span<const std::string_view> values =
      ValidLabelValues(label_values, repaired, repaired_views);

  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) {
    std::shared_ptr<Node> node;
    if constexpr (std::is_same_v<Metric, Histogram>) {
      node = std::make_shared<Node>(values, std::span<const double>(bucket_bounds()));
    } else {
      node = std::make_shared<Node>(values);
    }
    it = children_.insert(std::move(node)).first;
  }
  // Aliasing constructor: the handle shares ownership of the whole node.
  return std::shared_ptr<Metric>(*it, &(*it)->metric);
}

template <typename Metric>
bool Family<Metric>::Remove(std::span<const std::string_view> label_values) {
  CheckLabelCount(*this, label_values.size());
  std::vector<std::string> repaired;
  std::vector<std::string_view> repaired_views;
  const std::span<const std::string_view> values =
      ValidLabelValues(label_values, repaired, repaired_views);

  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) return false;
  children_.erase(it);
  return true;
}

template <typename Metric>
size_t Family<Metric>::size() const {
  std::lock_guard lock(mu_);
  return children_.size();
}

template <typename Metric>
void Family<Metric>::CollectSeries(FamilySnapshot& out) const {
  std::lock_guard lock(mu_);
  out.series.reserve(children_.size());
  for (const std::shared_ptr<Node>& node : children_) {
    FamilySnapshot::Series& series = out.series.emplace_back();
    series.label_values = node->label_values;
    if constexpr (std::is_same_v<Metric, Histogram>) {
      series.cumulative_counts = node->metric.CumulativeCounts();
      series.sum = node->metric.Sum();
    } else {
      series.value = node->metric.Value();
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Callback families ----

namespace internal {

// A family whose series come from a callback at scrape time. Shared by the Registry and the
// CallbackRegistration; any thread.
class CallbackFamily final : public FamilyBase {
 public:
  CallbackFamily(MetricType type, FamilyOptions options, CollectCallback collect)
      : FamilyBase(type, std::move(options), {}), collect_(std::move(collect)) {}

  bool active() const override { return active_.load(std::memory_order_acquire); }

  // Waits for a running callback to return, then drops the callback.
  void Deactivate() {
    std::lock_guard lock(mu_);
    active_.store(false, std::memory_order_release);
    collect_ = nullptr;
  }

 protected:
  void CollectSeries(FamilySnapshot& out) const override {
    {
      // Held while the callback runs, so that Deactivate() cannot return during a call.
      std::lock_guard lock(mu_);
      if (!collect_) return;
      SampleSink sink(out);
      collect_(sink);
    }
    SortAndDeduplicate(out.series);
  }

 private:
  mutable std::mutex mu_;
  CollectCallback collect_;  // guarded by mu_; null once deactivated
  // Readable without mu_, so that the Registry never waits for a slow callback.
  std::atomic<bool> active_{true};
};

}  // namespace internal

void SampleSink::Add(std::span<const std::string_view> label_values, double value) {
  BRIX_CHECK(label_values.size() == out_.label_names.size())
      << "metric '" << out_.name << "' has " << out_.label_names.size() << " label names but got "
      << label_values.size() << " label values";
  FamilySnapshot::Series& series = out_.series.emplace_back();
  series.label_values.reserve(label_values.size());
  for (std::string_view v : label_values) {
    series.label_values.push_back(IsValidUtf8(v) ? std::string(v) : RepairUtf8(v));
  }
  series.value = value;
}

CollectCallback SingleValue(std::function<double()> value) {
  BRIX_CHECK(value != nullptr) << "SingleValue needs a function";
  return [value = std::move(value)](SampleSink& sink) { sink.Add({}, value()); };
}

CallbackRegistration::CallbackRegistration(internal::RegistryKey,
                                           std::shared_ptr<internal::CallbackFamily> family)
    : family_(std::move(family)) {}

CallbackRegistration& CallbackRegistration::operator=(CallbackRegistration&& other) noexcept {
  if (this != &other) {
    Reset();
    family_ = std::move(other.family_);
  }
  return *this;
}

CallbackRegistration::~CallbackRegistration() { Reset(); }

void CallbackRegistration::Reset() {
  if (family_ == nullptr) return;
  family_->Deactivate();
  family_.reset();
}

// ---- Registry ----

Result<CounterFamily*> Registry::AddCounter(FamilyOptions options) {
  return AddFamily<Counter>(MetricType::kCounter, std::move(options), {});
}

Result<GaugeFamily*> Registry::AddGauge(FamilyOptions options) {
  return AddFamily<Gauge>(MetricType::kGauge, std::move(options), {});
}

Result<HistogramFamily*> Registry::AddHistogram(FamilyOptions options,
                                                std::vector<double> bucket_bounds) {
  return AddFamily<Histogram>(MetricType::kHistogram, std::move(options), std::move(bucket_bounds));
}

Result<CallbackRegistration> Registry::AddCallbackGauge(FamilyOptions options,
                                                        CollectCallback collect) {
  return AddCallback(MetricType::kGauge, std::move(options), std::move(collect));
}

Result<CallbackRegistration> Registry::AddCallbackCounter(FamilyOptions options,
                                                          CollectCallback collect) {
  return AddCallback(MetricType::kCounter, std::move(options), std::move(collect));
}

template <typename Metric>
Result<Family<Metric>*> Registry::AddFamily(MetricType type, FamilyOptions options,
                                            std::vector<double> bucket_bounds) {
  if (Result<void> valid = ValidateOptions(options, type); !valid) return valid.error();
  Result<std::vector<double>> bounds =
      NormalizeBucketBounds(options.name, std::move(bucket_bounds));
  if (!bounds) return bounds.error();

  auto family = std::make_shared<Family<Metric>>(internal::RegistryKey(), type, std::move(options),
                                                 std::move(*bounds));
  // The single child of an unlabelled family exists before anyone can scrape the family.
  if (family->label_names().empty()) family->WithLabels({});

  Result<std::shared_ptr<internal::FamilyBase>> inserted = Insert(std::move(family), true);
  if (!inserted) return inserted.error();
  // Insert() returns either `family` or a family with the same dynamic type.
  return static_cast<Family<Metric>*>(inserted->get());
}

Result<CallbackRegistration> Registry::AddCallback(MetricType type, FamilyOptions options,
                                                   CollectCallback collect) {
  BRIX_CHECK(collect != nullptr) << "callback family '" << options.name << "' needs a callback";
  if (Result<void> valid = ValidateOptions(options, type); !valid) return valid.error();
  auto family =
      std::make_shared<internal::CallbackFamily>(type, std::move(options), std::move(collect));
  Result<std::shared_ptr<internal::FamilyBase>> inserted = Insert(family, false);
  if (!inserted) return inserted.error();
  return CallbackRegistration(internal::RegistryKey(), std::move(family));
}

Result<std::shared_ptr<internal::FamilyBase>> Registry::Insert(
    std::shared_ptr<internal::FamilyBase> family, bool reuse_equal) {
  std::vector<std::string> sample_names = SampleNames(*family);

  std::lock_guard lock(mu_);
  PurgeInactiveLocked();
  if (auto it = families_.find(family->name()); it != families_.end()) {
    if (reuse_equal && SameDefinition(*it->second, *family)) return it->second;
    return AlreadyExists(fmt::format("metric '{}' is already registered as a {}", family->name(),
                                     Describe(*it->second)));
  }
  for (const std::string& sample_name : sample_names) {
    if (auto it = sample_names_.find(sample_name); it != sample_names_.end()) {
      return AlreadyExists(fmt::format("metric '{}' would render sample '{}', which '{}' renders",
                                       family->name(), sample_name, it->second));
    }
  }
  for (std::string& sample_name : sample_names) {
    sample_names_.emplace(std::move(sample_name), family->name());
  }
  families_.emplace(family->name(), family);
  return family;
}

void Registry::PurgeInactiveLocked() {
  for (auto it = families_.begin(); it != families_.end();) {
    if (it->second->active()) {
      ++it;
      continue;
    }
    for (const std::string& sample_name : SampleNames(*it->second)) {
      sample_names_.erase(sample_name);
    }
    it = families_.erase(it);
  }
}

std::vector<FamilySnapshot> Registry::Collect() const {
  std::vector<std::shared_ptr<internal::FamilyBase>> families;
  {
    std::lock_guard lock(mu_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      if (family->active()) families.push_back(family);
    }
  }
  // Families are snapshotted outside mu_: registrations need not wait for callbacks.
  std::vector<FamilySnapshot> snapshots;
  snapshots.reserve(families.size());
  for (const std::shared_ptr<internal::FamilyBase>& family : families) {
    FamilySnapshot snapshot = family->Snapshot();
    if (!snapshot.series.empty()) snapshots.push_back(std::move(snapshot));
  }
  return snapshots;
}

}  // namespace brix::metrics
