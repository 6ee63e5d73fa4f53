#include "discovery/discovery.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "discovery/internal/static_file_source.h"

namespace brix::discovery {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A cap on every wait, generous enough for a loaded sanitizer build; never an assertion on time.
constexpr milliseconds kWaitCap = seconds(10);

// Parses `yaml` that must be valid.
Topology Parse(std::string_view yaml) {
  Result<Topology> t = ParseTopologyYaml(yaml, "endpoints.yaml");
  EXPECT_TRUE(t) << t.error().message;
  return t ? *t : Topology{};
}

// Parses `yaml` that must be invalid and returns the message.
std::string ParseError(std::string_view yaml) {
  Result<Topology> t = ParseTopologyYaml(yaml, "endpoints.yaml");
  EXPECT_FALSE(t) << yaml;
  if (t) return "";
  EXPECT_EQ(t.error().code, Errc::kInvalidArgument);
  return t.error().message;
}

size_t Lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n') + 1; }

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(ParseTopologyYamlTest, ReadsModelsAndEndpoints) {
  Topology t = Parse(R"(
models:
  - name: llama-3.1-8b
    routing_strategy: least-request
    request_timeout: 120s
  - name: qwen2.5-14b
endpoints:
  - address: 127.0.0.1:8001
    name: sim-0
    models: [llama-3.1-8b, sql-lora]
  - host: engine-1.engines.svc.cluster.local
    port: 8000
)");
  ASSERT_EQ(t.models.size(), 2u);
  EXPECT_EQ(t.models[0], (ModelSpec{"llama-3.1-8b", "least-request", seconds(120)}));
  EXPECT_EQ(t.models[1], (ModelSpec{"qwen2.5-14b", std::nullopt, std::nullopt}));
  ASSERT_EQ(t.endpoints.size(), 2u);
  EXPECT_EQ(t.endpoints[0], (Endpoint{"sim-0", "127.0.0.1", 8001, {"llama-3.1-8b", "sql-lora"}}));
  EXPECT_EQ(t.endpoints[1], (Endpoint{"engine-1.engines.svc.cluster.local:8000",
                                      "engine-1.engines.svc.cluster.local",
                                      8000,
                                      {}}));
  EXPECT_EQ(t.generation, 0u);
}

TEST(ParseTopologyYamlTest, EmptyFileAndEmptyListsAreAnEmptyTopology) {
  for (const char* yaml : {"", "# no engines yet\n", "endpoints: []\n", "endpoints:\n",
                           "models: []\nendpoints: []\n"}) {
    Topology t = Parse(yaml);
    EXPECT_TRUE(t.endpoints.empty()) << yaml;
    EXPECT_TRUE(t.models.empty()) << yaml;
  }
}

TEST(ParseTopologyYamlTest, AcceptsEveryAddressForm) {
  Topology t = Parse(R"(
endpoints:
  - address: 10.0.0.5:8000
  - address: "[::1]:80"
  - address: localhost:8001
  - address: "[2001:db8::5]:8000"
  - {host: 10.0.0.6, port: 8000}
  - {host: "::1", port: 81}
  - {host: "[fe80::1]", port: 82}
  - {host: my_engine, port: 8000}
  - 10.0.0.7:9000
  - "[::2]:9001"
)");
  ASSERT_EQ(t.endpoints.size(), 10u);
  auto host_port = [&](size_t i) {
    return std::make_pair(t.endpoints[i].host, t.endpoints[i].port);
  };
  EXPECT_EQ(host_port(0), std::make_pair(std::string("10.0.0.5"), uint16_t{8000}));
  EXPECT_EQ(host_port(1), std::make_pair(std::string("::1"), uint16_t{80}));
  EXPECT_EQ(host_port(2), std::make_pair(std::string("localhost"), uint16_t{8001}));
  EXPECT_EQ(host_port(3), std::make_pair(std::string("2001:db8::5"), uint16_t{8000}));
  EXPECT_EQ(host_port(4), std::make_pair(std::string("10.0.0.6"), uint16_t{8000}));
  EXPECT_EQ(host_port(5), std::make_pair(std::string("::1"), uint16_t{81}));
  EXPECT_EQ(host_port(6), std::make_pair(std::string("fe80::1"), uint16_t{82}));
  EXPECT_EQ(host_port(7), std::make_pair(std::string("my_engine"), uint16_t{8000}));
  EXPECT_EQ(host_port(8), std::make_pair(std::string("10.0.0.7"), uint16_t{9000}));
  EXPECT_EQ(host_port(9), std::make_pair(std::string("::2"), uint16_t{9001}));
}

TEST(ParseTopologyYamlTest, NameDefaultsToHostPortWithBracketsForIpv6) {
  Topology t = Parse(R"(
endpoints:
  - address: 10.0.0.5:8000
  - {host: "::1", port: 8001}
  - engine-0:8000
)");
  ASSERT_EQ(t.endpoints.size(), 3u);
  EXPECT_EQ(t.endpoints[0].name, "10.0.0.5:8000");
  EXPECT_EQ(t.endpoints[1].name, "[::1]:8001");
  EXPECT_EQ(t.endpoints[2].name, "engine-0:8000");
  EXPECT_TRUE(t.endpoints[0].models.empty());
}

TEST(ParseTopologyYamlTest, LeavesRoutingStrategyNamesToTheGateway) {
  Topology t = Parse("models:\n  - {name: m, routing_strategy: no-such-policy}\n");
  ASSERT_EQ(t.models.size(), 1u);
  EXPECT_EQ(t.models[0].routing_strategy, "no-such-policy");
}

TEST(ParseTopologyYamlTest, ReportsPortOutOfRangeWithPathLineAndColumn) {
  std::string m = ParseError(R"(endpoints:
  - address: 127.0.0.1:8001
  - host: 127.0.0.1
    port: 0
  - {host: 127.0.0.1, port: 65536}
  - {host: 127.0.0.1, port: http}
)");
  EXPECT_CONTAINS(m, "endpoints.yaml:4:11: endpoints[1].port: must be between 1 and 65535, got 0");
  EXPECT_CONTAINS(m,
                  "endpoints.yaml:5:29: endpoints[2].port: must be between 1 and 65535, got "
                  "65536");
  EXPECT_CONTAINS(m, "endpoints[3].port: expected an integer, got 'http'");
  EXPECT_EQ(Lines(m), 3u) << m;
}

TEST(ParseTopologyYamlTest, ReportsUnknownKeysEverywhere) {
  std::string m = ParseError(R"(endpoint:
  - address: 127.0.0.1:8001
models:
  - name: m
    timeout: 5s
endpoints:
  - address: 127.0.0.1:8001
    weight: 3
)");
  EXPECT_CONTAINS(m, "endpoints.yaml:1:1: endpoint: unknown field");
  EXPECT_CONTAINS(m, "endpoints.yaml:5:5: models[0].timeout: unknown field");
  EXPECT_CONTAINS(m, "endpoints.yaml:8:5: endpoints[0].weight: unknown field");
  EXPECT_EQ(Lines(m), 3u) << m;
}

TEST(ParseTopologyYamlTest, ReportsMissingAddressOrPort) {
  std::string m = ParseError(R"(endpoints:
  - name: nowhere
  - host: 10.0.0.1
  - port: 8000
  -
)");
  EXPECT_CONTAINS(m,
                  "endpoints.yaml:2:5: endpoints[0].address: required field is missing (or "
                  "give host: and port:)");
  EXPECT_CONTAINS(m, "endpoints[1].port: required field is missing");
  EXPECT_CONTAINS(m, "endpoints[2].host: required field is missing");
  EXPECT_CONTAINS(m, "endpoints[3].address: required field is missing");
  EXPECT_EQ(Lines(m), 4u) << m;
}

TEST(ParseTopologyYamlTest, ReportsBadAddressSyntax) {
  std::string m = ParseError(R"(endpoints:
  - address: 10.0.0.1
  - address: "::1:8000"
  - address: http://10.0.0.1:8000
  - address: 300.0.0.1:8000
  - address: "bad host:8000"
  - address: 10.0.0.1:0
  - address: 10.0.0.1:80x
  - address: "[::1]"
  - address: "[10.0.0.1]:80"
  - address: "[::zz]:80"
  - address: ":8000"
  - -bad-:8000
  - {host: "no spaces", port: 80}
  - address: 10.0.0.1:70000
)");
  EXPECT_CONTAINS(m,
                  "endpoints.yaml:2:14: endpoints[0].address: invalid address '10.0.0.1': the "
                  "port is missing; expected host:port, e.g. 127.0.0.1:8001");
  EXPECT_CONTAINS(m,
                  "endpoints[1].address: invalid address '::1:8000': an IPv6 address must be "
                  "in brackets, e.g. [::1]:8001");
  EXPECT_CONTAINS(m,
                  "endpoints[2].address: invalid address 'http://10.0.0.1:8000': write "
                  "host:port without a scheme");
  EXPECT_CONTAINS(m,
                  "endpoints[3].address: invalid address '300.0.0.1:8000': '300.0.0.1' is not "
                  "a valid IPv4 address");
  EXPECT_CONTAINS(m,
                  "endpoints[4].address: invalid address 'bad host:8000': 'bad host' is not a "
                  "valid host name or IP address");
  EXPECT_CONTAINS(m,
                  "endpoints[5].address: invalid address '10.0.0.1:0': the port must be "
                  "between 1 and 65535, got 0");
  EXPECT_CONTAINS(m,
                  "endpoints[6].address: invalid address '10.0.0.1:80x': the port '80x' is not "
                  "a number");
  EXPECT_CONTAINS(m, "endpoints[7].address: invalid address '[::1]': expected ':port' after ']'");
  EXPECT_CONTAINS(m,
                  "endpoints[8].address: invalid address '[10.0.0.1]:80': brackets are only "
                  "for IPv6 addresses");
  EXPECT_CONTAINS(m,
                  "endpoints[9].address: invalid address '[::zz]:80': '::zz' is not a valid "
                  "IPv6 address");
  EXPECT_CONTAINS(m, "endpoints[10].address: invalid address ':8000': the host is missing");
  EXPECT_CONTAINS(m, "endpoints.yaml:13:5: endpoints[11]: invalid address '-bad-:8000'");
  EXPECT_CONTAINS(m, "endpoints[12].host: 'no spaces' is not a valid host name or IP address");
  EXPECT_CONTAINS(m,
                  "endpoints[13].address: invalid address '10.0.0.1:70000': the port must be "
                  "between 1 and 65535, got 70000");
  EXPECT_EQ(Lines(m), 14u) << m;
}

TEST(ParseTopologyYamlTest, ReportsAddressTogetherWithHostOrPort) {
  std::string m = ParseError(R"(endpoints:
  - address: 10.0.0.1:8000
    port: 8001
)");
  EXPECT_CONTAINS(m,
                  "endpoints.yaml:3:11: endpoints[0].port: give either address: or host: and "
                  "port:, not both");
  EXPECT_EQ(Lines(m), 1u) << m;
}

TEST(ParseTopologyYamlTest, ReportsDuplicateNamesAndAddresses) {
  std::string m = ParseError(R"(endpoints:
  - {address: 10.0.0.1:8000, name: a}
  - {address: 10.0.0.2:8000, name: a}
  - {address: 10.0.0.1:8000, name: b}
  - {host: 10.0.0.1, port: 8000, name: c}
  - "[::1]:80"
  - "[0:0::1]:80"
  - {address: LocalHost:80, name: d}
  - {address: localhost.:80, name: e}
  - {address: 10.0.0.9:80, name: "10.0.0.8:80"}
  - 10.0.0.8:80
)");
  EXPECT_CONTAINS(m,
                  "endpoints.yaml:3:36: endpoints[1].name: duplicate endpoint name 'a' (also "
                  "endpoints[0])");
  EXPECT_CONTAINS(m,
                  "endpoints[2].address: duplicate endpoint address 10.0.0.1:8000 (also "
                  "endpoints[0])");
  EXPECT_CONTAINS(m,
                  "endpoints[3].host: duplicate endpoint address 10.0.0.1:8000 (also "
                  "endpoints[0])");
  EXPECT_CONTAINS(m,
                  "endpoints.yaml:7:5: endpoints[5]: duplicate endpoint address [0:0::1]:80 "
                  "(also endpoints[4])");
  EXPECT_CONTAINS(m,
                  "endpoints[7].address: duplicate endpoint address localhost.:80 (also "
                  "endpoints[6])");
  EXPECT_CONTAINS(m,
                  "endpoints[9]: duplicate endpoint name '10.0.0.8:80' (also endpoints[8]); "
                  "set name: to tell them apart");
  // A repeated default name is the repeated address; it is reported once.
  EXPECT_EQ(Lines(m), 6u) << m;
}

TEST(ParseTopologyYamlTest, ReportsEmptyAndDuplicateModelNames) {
  std::string m = ParseError(R"(models:
  - name: llama
  - name: ""
  - name: llama
    request_timeout: 10s
  - routing_strategy: random
endpoints:
  - address: 10.0.0.1:8000
    name: ""
    models: [llama, "", llama, [x]]
)");
  EXPECT_CONTAINS(m, "endpoints.yaml:3:11: models[1].name: must not be empty");
  EXPECT_CONTAINS(m,
                  "endpoints.yaml:4:11: models[2].name: duplicate model 'llama' (also "
                  "models[0])");
  EXPECT_CONTAINS(m, "models[3].name: required field is missing");
  EXPECT_CONTAINS(m, "endpoints[0].name: must not be empty");
  EXPECT_CONTAINS(m,
                  "endpoints.yaml:10:21: endpoints[0].models[1]: a model name must not be "
                  "empty");
  EXPECT_CONTAINS(m,
                  "endpoints[0].models[2]: duplicate model 'llama' (also "
                  "endpoints[0].models[0])");
  EXPECT_CONTAINS(m, "endpoints[0].models[3]: expected a model name");
  EXPECT_EQ(Lines(m), 7u) << m;
}

TEST(ParseTopologyYamlTest, ReportsNonPositiveOrMalformedRequestTimeout) {
  std::string m = ParseError(R"(models:
  - {name: a, request_timeout: 0s}
  - {name: b, request_timeout: 500us}
  - {name: c, request_timeout: 10}
  - {name: d, routing_strategy: ""}
)");
  EXPECT_CONTAINS(m,
                  "endpoints.yaml:2:32: models[0].request_timeout: must be at least 1ms, got "
                  "0s");
  EXPECT_CONTAINS(m, "models[1].request_timeout: must be at least 1ms, got 500us");
  EXPECT_CONTAINS(m, "models[2].request_timeout: invalid duration '10'");
  EXPECT_CONTAINS(m, "models[3].routing_strategy: must not be empty");
  EXPECT_EQ(Lines(m), 4u) << m;
}

TEST(ParseTopologyYamlTest, ReportsWrongShapesAndYamlSyntax) {
  EXPECT_CONTAINS(ParseError("- 10.0.0.1:8000\n"), "expected a mapping, got a sequence");
  EXPECT_CONTAINS(ParseError("endpoints: 10.0.0.1:8000\n"),
                  "endpoints.yaml:1:12: endpoints: expected a sequence, got a scalar");
  EXPECT_CONTAINS(ParseError("endpoints:\n  - {address: 10.0.0.1:8000, models: llama}\n"),
                  "endpoints[0].models: expected a sequence, got a scalar");
  EXPECT_CONTAINS(ParseError("models: [llama]\n"), "models[0]: expected a mapping, got a scalar");
  std::string syntax = ParseError("endpoints: [10.0.0.1:8000\n");
  EXPECT_CONTAINS(syntax, "endpoints.yaml:");
  EXPECT_CONTAINS(syntax, "invalid YAML");
}

// ---------------------------------------------------------------------------------------------
// The watched file.

// Collects the snapshots a source delivers and lets a test wait for the n-th.
class Recorder {
 public:
  Source::Callback Callback() {
    return [this](std::shared_ptr<const Topology> t) {
      std::lock_guard lock(mu_);
      EXPECT_FALSE(stopped_) << "callback after Stop() returned";
      snapshots_.push_back(std::move(t));
      cv_.notify_all();
    };
  }

  // The n-th snapshot (1-based), waiting for it at most kWaitCap; nullptr if it did not come.
  std::shared_ptr<const Topology> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kWaitCap, [&] { return snapshots_.size() >= n; });
    return snapshots_.size() >= n ? snapshots_[n - 1] : nullptr;
  }

  size_t count() {
    std::lock_guard lock(mu_);
    return snapshots_.size();
  }

  // Marks the point after which a callback is a bug.
  void MarkStopped() {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<const Topology>> snapshots_;
  bool stopped_ = false;
};

class StaticFileSourceTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string dir = testing::TempDir() + "discovery_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    file_ = dir_ / "endpoints.yaml";
  }
  void TearDown() override {
    if (source_) source_->Stop();
    std::filesystem::remove_all(dir_);
  }

  // Overwrites the file in place: same inode, truncated and rewritten.
  void WriteInPlace(std::string_view text) {
    std::ofstream out(file_, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good());
  }

  // Replaces the file as editors and deploy tools do: write a new file, rename it over.
  void WriteByRename(std::string_view text) {
    std::filesystem::path tmp = dir_ / "endpoints.yaml.tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << text;
      ASSERT_TRUE(out.good());
    }
    std::filesystem::rename(tmp, file_);
  }

  internal::StaticFileSource& MakeSource(milliseconds poll_interval = milliseconds(10)) {
    source_ = std::make_unique<internal::StaticFileSource>(
        StaticFileOptions{.file = file_, .poll_interval = poll_interval});
    return *source_;
  }

  // Waits until the watcher has polled `n` more times than now; enough for it to have seen and
  // handled a write made before this call (a change is read on the second poll that sees it).
  void WaitForPolls(uint64_t n) {
    uint64_t target = source_->Stats().polls + n;
    ASSERT_TRUE(source_->WaitUntil(
        [&](const internal::StaticFileStats& s) { return s.polls >= target; }, kWaitCap));
  }

  std::filesystem::path dir_;
  std::filesystem::path file_;
  std::unique_ptr<internal::StaticFileSource> source_;
  Recorder recorder_;
};

constexpr std::string_view kOne = "endpoints:\n  - {address: 127.0.0.1:8001, name: sim-0}\n";
constexpr std::string_view kTwo =
    "endpoints:\n  - {address: 127.0.0.1:8001, name: sim-0}\n  - 127.0.0.1:8002\n";
constexpr std::string_view kThree = "endpoints:\n  - 127.0.0.1:8003\n";

TEST_F(StaticFileSourceTest, StartDeliversGenerationOneBeforeReturning) {
  WriteInPlace(kOne);
  auto& source = MakeSource();
  ASSERT_TRUE(source.Start(recorder_.Callback()));
  ASSERT_EQ(recorder_.count(), 1u);
  auto t = recorder_.WaitFor(1);
  EXPECT_EQ(t->generation, 1u);
  ASSERT_EQ(t->endpoints.size(), 1u);
  EXPECT_EQ(t->endpoints[0].name, "sim-0");
}

TEST_F(StaticFileSourceTest, StartFailsWithTheDiagnosticsOfABadFile) {
  WriteInPlace("endpoints:\n  - address: 127.0.0.1\n    colour: blue\n");
  auto& source = MakeSource();
  Result<void> started = source.Start(recorder_.Callback());
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Errc::kInvalidArgument);
  const std::string& m = started.error().message;
  EXPECT_CONTAINS(m, file_.string() + ":2:14: endpoints[0].address: invalid address");
  EXPECT_CONTAINS(m, file_.string() + ":3:5: endpoints[0].colour: unknown field");
  EXPECT_EQ(recorder_.count(), 0u);
}

TEST_F(StaticFileSourceTest, StartFailsForAMissingFileAndMayBeRetried) {
  auto& source = MakeSource();
  Result<void> started = source.Start(recorder_.Callback());
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Errc::kNotFound);
  EXPECT_CONTAINS(started.error().message, file_.string());

  WriteInPlace("");
  ASSERT_TRUE(source.Start(recorder_.Callback()));
  auto t = recorder_.WaitFor(1);
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->endpoints.empty());
  Result<void> again = source.Start(recorder_.Callback());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kFailedPrecondition);
}

TEST_F(StaticFileSourceTest, ReloadsAfterAnInPlaceWrite) {
  WriteInPlace(kOne);
  auto& source = MakeSource();
  ASSERT_TRUE(source.Start(recorder_.Callback()));
  WriteInPlace(kTwo);
  auto t = recorder_.WaitFor(2);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->generation, 2u);
  ASSERT_EQ(t->endpoints.size(), 2u);
  EXPECT_EQ(t->endpoints[1].name, "127.0.0.1:8002");
  // And again: every snapshot is whole and the generation keeps counting.
  WriteInPlace(kThree);
  t = recorder_.WaitFor(3);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->generation, 3u);
  ASSERT_EQ(t->endpoints.size(), 1u);
  EXPECT_EQ(t->endpoints[0].port, 8003);
}

TEST_F(StaticFileSourceTest, ReloadsAfterARenameOver) {
  WriteInPlace(kOne);
  auto& source = MakeSource();
  ASSERT_TRUE(source.Start(recorder_.Callback()));
  WriteByRename(kTwo);
  auto t = recorder_.WaitFor(2);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->generation, 2u);
  EXPECT_EQ(t->endpoints.size(), 2u);
  WriteByRename(kThree);
  t = recorder_.WaitFor(3);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->generation, 3u);
  EXPECT_EQ(t->endpoints.size(), 1u);
}

TEST_F(StaticFileSourceTest, RewritingTheSameBytesOrOnlyCommentsCausesNoCallback) {
  WriteInPlace(kOne);
  auto& source = MakeSource();
  ASSERT_TRUE(source.Start(recorder_.Callback()));
  const uint64_t reads_before = source.Stats().reads;

  WriteByRename(kOne);  // a new inode with the same bytes
  WaitForPolls(3);
  WriteInPlace(kOne);  // the same inode, rewritten
  WaitForPolls(3);
  WriteInPlace(std::string(kOne) + "# a comment changes the bytes, not the topology\n");
  WaitForPolls(3);

  EXPECT_GE(source.Stats().reads, reads_before + 3);  // the watcher did look at each version
  EXPECT_EQ(source.Stats().reloads, 0u);
  EXPECT_EQ(recorder_.count(), 1u);

  // The next real change is generation 2: nothing was delivered in between.
  WriteInPlace(kTwo);
  auto t = recorder_.WaitFor(2);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->generation, 2u);
}

TEST_F(StaticFileSourceTest, BadReloadKeepsTheOldTopologyUntilAGoodOneArrives) {
  WriteInPlace(kOne);
  auto& source = MakeSource();
  ASSERT_TRUE(source.Start(recorder_.Callback()));

  WriteByRename("endpoints:\n  - address: 127.0.0.1:0\n");
  ASSERT_TRUE(source.WaitUntil([](const internal::StaticFileStats& s) { return s.failures >= 1; },
                               kWaitCap));
  WriteInPlace("endpoints: [");  // bad YAML this time
  ASSERT_TRUE(source.WaitUntil([](const internal::StaticFileStats& s) { return s.failures >= 2; },
                               kWaitCap));
  EXPECT_EQ(recorder_.count(), 1u);

  WriteByRename(kTwo);
  auto t = recorder_.WaitFor(2);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->generation, 2u);
  EXPECT_EQ(t->endpoints.size(), 2u);
}

TEST_F(StaticFileSourceTest, AMissingFileKeepsTheTopologyUntilItReturns) {
  WriteInPlace(kOne);
  auto& source = MakeSource();
  ASSERT_TRUE(source.Start(recorder_.Callback()));

  std::filesystem::remove(file_);  // a deploy tool that deletes, then creates
  ASSERT_TRUE(source.WaitUntil([](const internal::StaticFileStats& s) { return s.failures >= 1; },
                               kWaitCap));
  EXPECT_EQ(recorder_.count(), 1u);

  // Back with the same content: nothing changed for the consumer.
  WriteInPlace(kOne);
  WaitForPolls(3);
  EXPECT_EQ(recorder_.count(), 1u);

  WriteInPlace(kThree);
  auto t = recorder_.WaitFor(2);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->generation, 2u);
  EXPECT_EQ(t->endpoints[0].port, 8003);
}

TEST_F(StaticFileSourceTest, StopIsPromptAndIdempotent) {
  WriteInPlace(kOne);
  // An hour between polls: Stop() returning at all shows that it wakes the watcher.
  auto& source = MakeSource(std::chrono::hours(1));
  ASSERT_TRUE(source.Start(recorder_.Callback()));
  source.Stop();
  source.Stop();
  recorder_.MarkStopped();
  Result<void> restarted = source.Start(recorder_.Callback());
  ASSERT_FALSE(restarted);
  EXPECT_EQ(restarted.error().code, Errc::kFailedPrecondition);
}

TEST_F(StaticFileSourceTest, NoCallbackRunsAfterStopReturns) {
  WriteInPlace(kOne);
  auto& source = MakeSource(milliseconds(1));
  ASSERT_TRUE(source.Start(recorder_.Callback()));
  // A writer keeps changing the file, giving each version time to be picked up, while the
  // source is stopped; the recorder fails the test on a callback after Stop() returned.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; !done.load(); ++i) {
      WriteByRename(fmt::format("endpoints:\n  - 127.0.0.1:{}\n", 1000 + i % 1000));
      const uint64_t target = source.Stats().polls + 3;
      // Returns early once the source stops.
      source.WaitUntil([&](const internal::StaticFileStats& s) { return s.polls >= target; },
                       kWaitCap);
    }
  });
  EXPECT_NE(recorder_.WaitFor(3), nullptr);
  source.Stop();
  recorder_.MarkStopped();
  done = true;
  writer.join();
}

TEST(MakeStaticFileSourceTest, RejectsAnEmptyPathAndANonPositiveInterval) {
  auto no_file = MakeStaticFileSource({});
  ASSERT_FALSE(no_file);
  EXPECT_EQ(no_file.error().code, Errc::kInvalidArgument);
  auto no_interval =
      MakeStaticFileSource({.file = "endpoints.yaml", .poll_interval = milliseconds(0)});
  ASSERT_FALSE(no_interval);
  EXPECT_EQ(no_interval.error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(
      MakeStaticFileSource({.file = "endpoints.yaml", .poll_interval = milliseconds::max()}));
  auto ok = MakeStaticFileSource({.file = "endpoints.yaml"});
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace brix::discovery

namespace brix::discovery {
namespace {

TEST(TopologyJsonTest, ReadsTheControllersWatchAnswer) {
  auto t = ParseTopologyJson(
      R"({"epoch":"x1","generation":7,"models":[{"name":"m","routingStrategy":"brix"},{"name":"n"}],
          "endpoints":[{"name":"m-abcde","host":"127.0.0.1","port":41234,"models":["m"]}]})");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->generation, 7u);
  EXPECT_EQ(t->epoch, "x1");
  ASSERT_EQ(t->topology.models.size(), 2u);
  EXPECT_EQ(t->topology.models[0].routing_strategy, "brix");
  EXPECT_FALSE(t->topology.models[1].routing_strategy);
  ASSERT_EQ(t->topology.endpoints.size(), 1u);
  EXPECT_EQ(t->topology.endpoints[0],
            (Endpoint{"m-abcde", "127.0.0.1", 41234, std::vector<std::string>{"m"}}));
}

TEST(TopologyJsonTest, RefusesMalformedAnswersNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"[]", "not a JSON object"},
      {R"({"epoch":"e","models":[],"endpoints":[]})", "generation"},
      {R"({"generation":1,"models":[],"endpoints":[]})", "epoch"},
      {R"({"epoch":"e","generation":1,"models":[{}],"endpoints":[]})", "models[0].name"},
      {R"({"epoch":"e","generation":1,"models":[],"endpoints":[{"name":"a","host":"h","port":0}]})",
       "endpoints[0].port"},
      {R"({"epoch":"e","generation":1,"models":[],"endpoints":[{"name":"a","port":1}]})",
       "endpoints[0].host"},
      {R"({"epoch":"e","generation":1,"models":[],"endpoints":[{"name":"a","host":"h","port":1,"models":[3]}]})",
       "endpoints[0].models"},
  };
  for (const auto& [text, want] : cases) {
    auto t = ParseTopologyJson(text);
    ASSERT_FALSE(t) << text;
    EXPECT_EQ(t.error().code, Errc::kInvalidArgument);
    EXPECT_NE(t.error().message.find(want), std::string::npos) << t.error().message;
  }
}

TEST(ControllerSourceTest, RefusesIncompleteOptions) {
  EXPECT_FALSE(MakeControllerSource({.port = 0, .token = "t"}));
  EXPECT_FALSE(MakeControllerSource({.port = 1, .token = ""}));
  EXPECT_FALSE(MakeControllerSource(
      {.port = 1, .token = "t", .poll_timeout = std::chrono::milliseconds(10)}));
  // Nothing listens on port 1: Start fails, nothing is delivered.
  auto s = MakeControllerSource({.port = 1, .token = "t"});
  ASSERT_TRUE(s);
  bool called = false;
  auto started = (*s)->Start([&](std::shared_ptr<const Topology>) { called = true; });
  EXPECT_FALSE(started);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace brix::discovery
