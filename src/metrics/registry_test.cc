#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "metrics/exposition.h"
#include "metrics/parser.h"

namespace brix::metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The single snapshot called `name` in `snapshots`, or null.
const FamilySnapshot* FindSnapshot(const std::vector<FamilySnapshot>& snapshots,
                                   std::string_view name) {
  for (const FamilySnapshot& s : snapshots) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

TEST(CounterTest, IncAndAddAccumulate) {
  Counter c;
  c.Inc();
  c.Inc(5);
  c.Add(0.5);
  c.Add(2.0);
  EXPECT_DOUBLE_EQ(c.Value(), 8.5);
}

TEST(CounterTest, IgnoresNegativeAndNaNAdds) {
  Counter c;
  c.Add(3);
  c.Add(-1);
  c.Add(kNaN);
  EXPECT_DOUBLE_EQ(c.Value(), 3);
}

TEST(CounterTest, CountsBeyondTwoToThe53Exactly) {
  Counter c;
  c.Inc(uint64_t{1} << 53);
  c.Inc();
  // The value is reported as a double, but the integer part is kept exactly.
  c.Inc(uint64_t{1} << 53);
  EXPECT_DOUBLE_EQ(c.Value(), std::ldexp(1.0, 54));
}

TEST(GaugeTest, SetIncDecAndAdd) {
  Gauge g;
  g.Set(10);
  g.Inc();
  g.Dec();
  g.Dec();
  g.Add(0.25);
  EXPECT_DOUBLE_EQ(g.Value(), 9.25);
  g.Set(-3);
  EXPECT_DOUBLE_EQ(g.Value(), -3);
}

TEST(HistogramTest, CountsAValueInTheFirstBucketWhoseBoundIsAtLeastIt) {
  const std::vector<double> bounds = {0.1, 0.5, 1};
  Histogram h(bounds);
  h.Observe(0.1);  // == first bound: first bucket
  h.Observe(0.2);  // second
  h.Observe(1);    // third
  h.Observe(7);    // +Inf
  h.Observe(-5);   // first
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(h.Count(), 5u);
  EXPECT_DOUBLE_EQ(h.Sum(), 0.1 + 0.2 + 1 + 7 - 5);
}

TEST(HistogramTest, PutsNaNInTheInfBucket) {
  const std::vector<double> bounds = {1};
  Histogram h(bounds);
  h.Observe(kNaN);
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{0, 1}));
  EXPECT_TRUE(std::isnan(h.Sum()));
}

TEST(HistogramTest, WithoutBoundsHasOnlyTheInfBucket) {
  Histogram h({});
  h.Observe(3);
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{1}));
}

TEST(BucketsTest, LinearAndExponential) {
  EXPECT_EQ(LinearBuckets(1, 2, 3), (std::vector<double>{1, 3, 5}));
  EXPECT_EQ(ExponentialBuckets(0.5, 2, 4), (std::vector<double>{0.5, 1, 2, 4}));
}

TEST(BucketsDeathTest, RejectBadArguments) {
  EXPECT_DEATH(LinearBuckets(0, 0, 3), "width");
  EXPECT_DEATH(ExponentialBuckets(1, 1, 3), "factor");
}

TEST(RegistryTest, WithLabelsReturnsTheSameChildForTheSameValues) {
  Registry registry;
  CounterFamily* family =
      registry.AddCounter({.name = "requests_total", .label_names = {"model", "code"}}).value();
  std::shared_ptr<Counter> a = family->WithLabels({"llama", "200"});
  std::shared_ptr<Counter> b = family->WithLabels({"llama", "200"});
  std::shared_ptr<Counter> c = family->WithLabels({"llama", "500"});
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a.get(), c.get());
  a->Inc();
  b->Inc();
  EXPECT_DOUBLE_EQ(c->Value(), 0);
  EXPECT_DOUBLE_EQ(family->WithLabels({"llama", "200"})->Value(), 2);
  EXPECT_EQ(family->size(), 2u);
}

TEST(RegistryTest, RemovedChildStopsBeingExportedButItsHandleStaysUsable) {
  Registry registry;
  GaugeFamily* family =
      registry.AddGauge({.name = "endpoint_in_flight", .label_names = {"endpoint"}}).value();
  std::shared_ptr<Gauge> gone = family->WithLabels({"10.0.0.1:8000"});
  family->WithLabels({"10.0.0.2:8000"})->Set(4);
  gone->Set(7);

  EXPECT_TRUE(family->Remove({"10.0.0.1:8000"}));
  EXPECT_FALSE(family->Remove({"10.0.0.1:8000"}));
  gone->Inc();  // must not crash; goes nowhere
  EXPECT_DOUBLE_EQ(gone->Value(), 8);

  const std::vector<FamilySnapshot> snapshots = registry.Collect();
  const FamilySnapshot* snapshot = FindSnapshot(snapshots, "endpoint_in_flight");
  ASSERT_NE(snapshot, nullptr);
  ASSERT_EQ(snapshot->series.size(), 1u);
  EXPECT_EQ(snapshot->series[0].label_values, (std::vector<std::string>{"10.0.0.2:8000"}));

  // Asking again starts a fresh child.
  EXPECT_DOUBLE_EQ(family->WithLabels({"10.0.0.1:8000"})->Value(), 0);
}

TEST(RegistryTest, HandlesOutliveTheRegistry) {
  std::shared_ptr<Histogram> handle;
  {
    Registry registry;
    handle = registry.AddHistogram({.name = "latency_seconds"}, {0.1, 1}).value()->WithLabels({});
  }
  handle->Observe(0.5);
  EXPECT_EQ(handle->Count(), 1u);
}

TEST(RegistryTest, RegisteringTheSameDefinitionTwiceReturnsTheSameFamily) {
  Registry registry;
  const FamilyOptions options{.name = "x_total", .help = "h", .label_names = {"a"}};
  Result<CounterFamily*> first = registry.AddCounter(options);
  Result<CounterFamily*> second = registry.AddCounter(options);
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, *second);

  Result<HistogramFamily*> h1 = registry.AddHistogram({.name = "h"}, {1, 2});
  Result<HistogramFamily*> h2 = registry.AddHistogram({.name = "h"}, {1, 2, kInf});
  ASSERT_TRUE(h1);
  ASSERT_TRUE(h2);
  EXPECT_EQ(*h1, *h2);
}

TEST(RegistryTest, RejectsTheSameNameWithADifferentDefinition) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter({.name = "x", .help = "h", .label_names = {"a"}}));

  Result<GaugeFamily*> other_type = registry.AddGauge({.name = "x", .label_names = {"a"}});
  ASSERT_FALSE(other_type);
  EXPECT_EQ(other_type.error().code, Errc::kAlreadyExists);
  EXPECT_EQ(other_type.error().message,
            "metric 'x' is already registered as a counter with labels [a]");

  EXPECT_FALSE(registry.AddCounter({.name = "x", .help = "h", .label_names = {"b"}}));
  EXPECT_FALSE(registry.AddCounter({.name = "x", .help = "other", .label_names = {"a"}}));
  ASSERT_TRUE(registry.AddHistogram({.name = "h"}, {1, 2}));
  EXPECT_FALSE(registry.AddHistogram({.name = "h"}, {1, 3}));
}

TEST(RegistryTest, RejectsFamiliesWhoseSampleNamesCollide) {
  Registry registry;
  ASSERT_TRUE(registry.AddHistogram({.name = "latency"}, {1}));
  Result<GaugeFamily*> gauge = registry.AddGauge({.name = "latency_count"});
  ASSERT_FALSE(gauge);
  EXPECT_EQ(gauge.error().code, Errc::kAlreadyExists);
  EXPECT_EQ(gauge.error().message,
            "metric 'latency_count' would render sample 'latency_count', which 'latency' renders");

  ASSERT_TRUE(registry.AddCounter({.name = "size_sum"}));
  EXPECT_FALSE(registry.AddHistogram({.name = "size"}, {1}));
}

TEST(RegistryTest, AcceptsPrometheusMetricNamesIncludingColons) {
  Registry registry;
  for (const char* name : {"vllm:num_requests_running", "_x", ":x", "a1_b2:c3"}) {
    EXPECT_TRUE(registry.AddGauge({.name = name})) << name;
  }
}

TEST(RegistryTest, RejectsInvalidMetricNames) {
  Registry registry;
  for (const char* name : {"", "1abc", "a-b", "a b", "caf\xC3\xA9", "a{b}"}) {
    Result<GaugeFamily*> r = registry.AddGauge({.name = name});
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  }
  EXPECT_EQ(registry.AddGauge({.name = "a-b"}).error().message,
            "invalid metric name 'a-b': must match [a-zA-Z_:][a-zA-Z0-9_:]*");
}

TEST(RegistryTest, RejectsInvalidReservedAndRepeatedLabelNames) {
  Registry registry;
  const auto message = [&](std::vector<std::string> labels) {
    Result<CounterFamily*> r = registry.AddCounter({.name = "c", .label_names = labels});
    return r ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(message({"a:b"}),
            "metric 'c': invalid label name 'a:b': must match [a-zA-Z_][a-zA-Z0-9_]*");
  EXPECT_EQ(message({"1a"}),
            "metric 'c': invalid label name '1a': must match [a-zA-Z_][a-zA-Z0-9_]*");
  EXPECT_EQ(message({"__name__"}),
            "metric 'c': label name '__name__' is reserved (starts with \"__\")");
  EXPECT_EQ(message({"a", "b", "a"}), "metric 'c': label name 'a' is repeated");
  EXPECT_EQ(message({"le"}), "ok");  // reserved for histograms only

  Result<HistogramFamily*> h = registry.AddHistogram({.name = "h", .label_names = {"le"}}, {1});
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message, "metric 'h': label name 'le' is reserved for histogram buckets");
}

TEST(RegistryTest, RejectsBucketBoundsThatAreNotFiniteAndIncreasing) {
  Registry registry;
  const auto message = [&](std::vector<double> bounds) {
    Result<HistogramFamily*> r = registry.AddHistogram({.name = "h"}, bounds);
    return r ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(message({1, 1}),
            "histogram 'h': bucket bounds must be strictly increasing (1 after 1)");
  EXPECT_EQ(message({2, 1}),
            "histogram 'h': bucket bounds must be strictly increasing (1 after 2)");
  EXPECT_EQ(message({-kInf, 1}), "histogram 'h': bucket bound -inf is not finite");
  EXPECT_EQ(message({1, kNaN}), "histogram 'h': bucket bound nan is not finite");
  EXPECT_EQ(message({kInf, kInf}), "histogram 'h': bucket bound inf is not finite");
  EXPECT_EQ(message({0.5, 1, kInf}), "ok");
  EXPECT_EQ(registry.AddHistogram({.name = "h"}, {0.5, 1}).value()->bucket_bounds(),
            (std::vector<double>{0.5, 1}));
}

TEST(RegistryTest, UnlabelledFamilyIsExportedAtZeroBeforeItsFirstUpdate) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter({.name = "starts_total"}));
  const std::vector<FamilySnapshot> snapshots = registry.Collect();
  const FamilySnapshot* snapshot = FindSnapshot(snapshots, "starts_total");
  ASSERT_NE(snapshot, nullptr);
  ASSERT_EQ(snapshot->series.size(), 1u);
  EXPECT_TRUE(snapshot->series[0].label_values.empty());
  EXPECT_EQ(snapshot->series[0].value, 0);
}

TEST(RegistryTest, LabelledFamilyWithoutChildrenIsNotCollected) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter({.name = "x_total", .label_names = {"a"}}));
  EXPECT_TRUE(registry.Collect().empty());
}

TEST(RegistryTest, CollectsFamiliesByNameAndSeriesByLabelValues) {
  Registry registry;
  GaugeFamily* b = registry.AddGauge({.name = "b", .label_names = {"x"}}).value();
  ASSERT_TRUE(registry.AddGauge({.name = "a"}));
  ASSERT_TRUE(registry.AddGauge({.name = "c"}));
  b->WithLabels({"z"});
  b->WithLabels({"m"});
  b->WithLabels({"a"});
  const std::vector<FamilySnapshot> snapshots = registry.Collect();
  ASSERT_EQ(snapshots.size(), 3u);
  EXPECT_EQ(snapshots[0].name, "a");
  EXPECT_EQ(snapshots[1].name, "b");
  EXPECT_EQ(snapshots[2].name, "c");
  ASSERT_EQ(snapshots[1].series.size(), 3u);
  EXPECT_EQ(snapshots[1].series[0].label_values[0], "a");
  EXPECT_EQ(snapshots[1].series[1].label_values[0], "m");
  EXPECT_EQ(snapshots[1].series[2].label_values[0], "z");
}

TEST(RegistryTest, RepairsLabelValuesThatAreNotUtf8) {
  Registry registry;
  CounterFamily* family =
      registry.AddCounter({.name = "x_total", .label_names = {"model"}}).value();
  family->WithLabels({"bad\xFF\xC0name"})->Inc();
  family->WithLabels({"ok \xE2\x82\xAC"})->Inc();  // a valid euro sign is kept
  // The same invalid value finds the same (repaired) child.
  family->WithLabels({"bad\xFF\xC0name"})->Inc();

  const std::vector<FamilySnapshot> snapshots = registry.Collect();
  ASSERT_EQ(snapshots.size(), 1u);
  ASSERT_EQ(snapshots[0].series.size(), 2u);
  EXPECT_EQ(snapshots[0].series[0].label_values[0], "bad\xEF\xBF\xBD\xEF\xBF\xBDname");
  EXPECT_EQ(snapshots[0].series[0].value, 2);
  EXPECT_EQ(snapshots[0].series[1].label_values[0], "ok \xE2\x82\xAC");
  EXPECT_TRUE(family->Remove({"bad\xFF\xC0name"}));
}

TEST(RegistryTest, RepairsOverlongAndSurrogateUtf8) {
  Registry registry;
  GaugeFamily* family = registry.AddGauge({.name = "g", .label_names = {"v"}}).value();
  family->WithLabels({"\xC0\xAF"});          // overlong '/'
  family->WithLabels({"\xED\xA0\x80"});      // UTF-16 surrogate
  family->WithLabels({"\xF4\x90\x80\x80"});  // above U+10FFFF
  const std::vector<FamilySnapshot> snapshots = registry.Collect();
  ASSERT_EQ(snapshots[0].series.size(), 3u);
  for (const FamilySnapshot::Series& s : snapshots[0].series) {
    EXPECT_EQ(s.label_values[0].find_first_of("\xC0\xED\xF4"), std::string::npos)
        << s.label_values[0];
  }
}

TEST(RegistryDeathTest, WrongNumberOfLabelValuesIsABug) {
  Registry registry;
  CounterFamily* family = registry.AddCounter({.name = "x_total", .label_names = {"a"}}).value();
  EXPECT_DEATH(family->WithLabels({"1", "2"}), "has 1 label names but got 2 label values");
}

TEST(CallbackTest, GaugeIsEvaluatedAtEveryCollect) {
  Registry registry;
  std::atomic<int> queue_length{3};
  Result<CallbackRegistration> registration = registry.AddCallbackGauge(
      {.name = "queue_length"}, SingleValue([&] { return double(queue_length.load()); }));
  ASSERT_TRUE(registration);
  EXPECT_EQ(registry.Collect()[0].series[0].value, 3);
  queue_length = 5;
  const std::vector<FamilySnapshot> snapshots = registry.Collect();
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].type, MetricType::kGauge);
  EXPECT_EQ(snapshots[0].series[0].value, 5);
}

TEST(CallbackTest, LabelledCounterSeriesAreSortedAndDuplicatesKeepTheFirst) {
  Registry registry;
  Result<CallbackRegistration> registration = registry.AddCallbackCounter(
      {.name = "pool_created_total", .label_names = {"pool"}}, [](SampleSink& sink) {
        sink.Add({"b"}, 2);
        sink.Add({"a"}, 1);
        sink.Add({"b"}, 99);
      });
  ASSERT_TRUE(registration);
  const std::vector<FamilySnapshot> snapshots = registry.Collect();
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].type, MetricType::kCounter);
  ASSERT_EQ(snapshots[0].series.size(), 2u);
  EXPECT_EQ(snapshots[0].series[0].label_values[0], "a");
  EXPECT_EQ(snapshots[0].series[1].label_values[0], "b");
  EXPECT_EQ(snapshots[0].series[1].value, 2);
}

TEST(CallbackTest, ResetUnregistersDropsTheCallbackAndFreesTheName) {
  Registry registry;
  auto state = std::make_shared<int>(7);
  std::weak_ptr<int> watch = state;
  Result<CallbackRegistration> registration =
      registry.AddCallbackGauge({.name = "q"}, SingleValue([state] { return double(*state); }));
  ASSERT_TRUE(registration);
  state.reset();
  EXPECT_FALSE(watch.expired());  // the callback holds it

  EXPECT_FALSE(registry.AddCallbackGauge({.name = "q"}, SingleValue([] { return 0.0; })));
  registration->Reset();
  EXPECT_FALSE(registration->registered());
  EXPECT_TRUE(watch.expired());  // the callback was destroyed by Reset()
  EXPECT_TRUE(registry.Collect().empty());
  EXPECT_TRUE(registry.AddGauge({.name = "q"}));
}

TEST(CallbackTest, DestroyingTheRegistrationUnregisters) {
  Registry registry;
  {
    Result<CallbackRegistration> registration =
        registry.AddCallbackGauge({.name = "q"}, SingleValue([] { return 1.0; }));
    ASSERT_TRUE(registration);
    EXPECT_EQ(registry.Collect().size(), 1u);
  }
  EXPECT_TRUE(registry.Collect().empty());
}

TEST(CallbackTest, MoveAssignmentUnregistersTheOverwrittenFamily) {
  Registry registry;
  CallbackRegistration a =
      registry.AddCallbackGauge({.name = "a"}, SingleValue([] { return 1.0; })).value();
  CallbackRegistration b =
      registry.AddCallbackGauge({.name = "b"}, SingleValue([] { return 2.0; })).value();
  a = std::move(b);
  const std::vector<FamilySnapshot> snapshots = registry.Collect();
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].name, "b");
  EXPECT_TRUE(a.registered());
}

TEST(CallbackTest, RegistrationMayOutliveTheRegistry) {
  CallbackRegistration registration;
  {
    Registry registry;
    registration =
        registry.AddCallbackGauge({.name = "q"}, SingleValue([] { return 1.0; })).value();
  }
  registration.Reset();
  EXPECT_FALSE(registration.registered());
}

TEST(CallbackTest, CallbackNameMustNotCollideWithARegularFamily) {
  Registry registry;
  ASSERT_TRUE(registry.AddGauge({.name = "q"}));
  Result<CallbackRegistration> r =
      registry.AddCallbackGauge({.name = "q"}, SingleValue([] { return 1.0; }));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kAlreadyExists);
  Result<CallbackRegistration> bad =
      registry.AddCallbackGauge({.name = "q-q"}, SingleValue([] { return 1.0; }));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kInvalidArgument);
}

// Renders `registry`, parses the text back and checks what must hold in every render, however
// it interleaves with writers. `last_total` is the requests total of the previous render.
void CheckRender(const Registry& registry, int writers, double& last_total) {
  const std::string text = RenderText(registry);
  Result<ParsedPage> page = ParseText(text);
  ASSERT_TRUE(page) << page.error().ToString();
  ASSERT_EQ(page->error_count(), 0u) << page->errors()[0].ToString();

  const ParsedFamily* requests = page->Find("requests_total");
  ASSERT_NE(requests, nullptr);
  const double total = requests->Sum({}).value_or(0);
  EXPECT_GE(total, last_total);  // counters never go back
  last_total = total;

  const ParsedFamily* latency = page->Find("latency_seconds");
  ASSERT_NE(latency, nullptr);
  for (int w = 0; w < writers; ++w) {
    const std::string worker = std::to_string(w);
    std::optional<HistogramData> h = latency->ReadHistogram({{"worker", worker}});
    ASSERT_TRUE(h);
    ASSERT_FALSE(h->buckets.empty());
    EXPECT_EQ(h->buckets.back().cumulative_count, h->count);  // _count == +Inf in one render
    for (size_t i = 1; i < h->buckets.size(); ++i) {
      EXPECT_LE(h->buckets[i - 1].cumulative_count, h->buckets[i].cumulative_count);
    }
  }
}

// Writers update counters and histograms, create and remove children, while a scraper renders
// and parses. Checks invariants of every render, and exact totals at the end.
TEST(RegistryConcurrencyTest, UpdatesRemovalsAndScrapesRunConcurrently) {
  Registry registry;
  CounterFamily* requests =
      registry.AddCounter({.name = "requests_total", .label_names = {"worker"}}).value();
  HistogramFamily* latency =
      registry
          .AddHistogram({.name = "latency_seconds", .label_names = {"worker"}},
                        ExponentialBuckets(0.001, 4, 6))
          .value();
  GaugeFamily* churn = registry.AddGauge({.name = "churn", .label_names = {"id"}}).value();
  std::atomic<int> callback_value{0};
  CallbackRegistration callback =
      registry.AddCallbackGauge({.name = "cb"}, SingleValue([&] { return double(callback_value); }))
          .value();

  constexpr int kWriters = 4;
  constexpr int kMinIterations = 20000;
  constexpr int kMinRenders = 10;
  // Every render has these series, so that CheckRender can require them.
  for (int w = 0; w < kWriters; ++w) {
    requests->WithLabels({std::to_string(w)});
    latency->WithLabels({std::to_string(w)});
  }
  // Writers keep going until the scraper has rendered kMinRenders times, so renders overlap
  // updates however the threads are scheduled.
  std::atomic<int> renders{0};
  std::vector<int> iterations(kWriters, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      const std::string worker = std::to_string(w);
      std::shared_ptr<Counter> counter = requests->WithLabels({worker});
      std::shared_ptr<Histogram> histogram = latency->WithLabels({worker});
      int i = 0;
      for (; i < kMinIterations || renders.load() < kMinRenders; ++i) {
        counter->Inc();
        histogram->Observe(0.0001 * (i % 1000));
        if (i % 100 == 0) {
          const std::string id = std::to_string(w) + "/" + std::to_string(i);
          churn->WithLabels({id})->Set(i);
          churn->Remove({id});
        }
        if (i % 1000 == 0) callback_value.fetch_add(1);
      }
      iterations[w] = i;
    });
  }

  double last_total = 0;
  while (renders.load() < kMinRenders) {
    CheckRender(registry, kWriters, last_total);
    renders.fetch_add(1);
  }
  for (std::thread& t : threads) t.join();

  double total_iterations = 0;
  double callback_total = 0;
  for (int n : iterations) {
    total_iterations += n;
    callback_total += (n + 999) / 1000;
  }
  EXPECT_DOUBLE_EQ(requests->WithLabels({"0"})->Value(), iterations[0]);
  Result<ParsedPage> final_page = ParseText(RenderText(registry));
  ASSERT_TRUE(final_page);
  EXPECT_EQ(final_page->Find("requests_total")->Sum({}), total_iterations);
  EXPECT_EQ(final_page->Find("latency_seconds")->ReadHistogram({})->count, total_iterations);
  EXPECT_EQ(churn->size(), 0u);
  EXPECT_EQ(final_page->Find("cb")->Value({}), callback_total);
}

}  // namespace
}  // namespace brix::metrics
