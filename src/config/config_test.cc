#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "config/reader.h"
#include "config/units.h"

namespace brix::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(ParseDurationTest, AcceptsEveryUnit) {
  EXPECT_EQ(*ParseDuration("15ns"), nanoseconds(15));
  EXPECT_EQ(*ParseDuration("20us"), nanoseconds(20'000));
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*ParseDuration("2m"), seconds(120));
  EXPECT_EQ(*ParseDuration("1h"), seconds(3600));
  EXPECT_EQ(*ParseDuration("0"), nanoseconds(0));
  EXPECT_EQ(*ParseDuration(" 3s "), seconds(3));
}

TEST(ParseDurationTest, RejectsMissingOrUnknownUnitsAndSigns) {
  for (const char* bad : {"", "ms", "10", "10 parsecs", "-1s", "1e3s", "1.2.3s", "1h30m", "s1"}) {
    auto d = ParseDuration(bad);
    EXPECT_FALSE(d) << bad;
    if (!d) {
      EXPECT_EQ(d.error().code, Errc::kInvalidArgument);
    }
  }
  EXPECT_FALSE(ParseDuration("999999999999999h"));
}

TEST(FormatDurationTest, RoundTripsThroughParse) {
  for (auto d :
       {nanoseconds(0), nanoseconds(7), nanoseconds(milliseconds(250)),
        nanoseconds(milliseconds(1500)), nanoseconds(seconds(90)), nanoseconds(seconds(7200))}) {
    EXPECT_EQ(*ParseDuration(FormatDuration(d)), d) << FormatDuration(d);
  }
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(seconds(120)), "2m");
}

TEST(ParseSizeTest, DecimalAndBinaryUnits) {
  EXPECT_EQ(*ParseSize("123"), 123u);
  EXPECT_EQ(*ParseSize("123B"), 123u);
  EXPECT_EQ(*ParseSize("4KB"), 4000u);
  EXPECT_EQ(*ParseSize("4KiB"), 4096u);
  EXPECT_EQ(*ParseSize("4MiB"), 4u << 20);
  EXPECT_EQ(*ParseSize("1.5KiB"), 1536u);
  EXPECT_EQ(*ParseSize("2GiB"), 2ull << 30);
  EXPECT_EQ(*ParseSize("1TiB"), 1ull << 40);
}

TEST(ParseSizeTest, RejectsFractionalBytesUnknownUnitsAndOverflow) {
  for (const char* bad : {"", "1.5", "1.1B", "4mb", "4 MiBs", "-4MiB", "99999999999TiB"}) {
    EXPECT_FALSE(ParseSize(bad)) << bad;
  }
}

struct Listener {
  std::string address = "127.0.0.1";
  uint16_t port = 8000;
  int workers = 1;
};

struct Sample {
  Listener listener;
  bool enabled = false;
  double ratio = 0.5;
  milliseconds timeout{1000};
  uint64_t max_body = 1024;
  std::string mode = "fast";
  std::vector<std::string> tags;
  std::vector<Listener> upstreams;
};

void ReadListener(MapReader& r, Listener* out) {
  r.Read("address", &out->address);
  r.Read("port", &out->port);
  r.Read("workers", &out->workers, 1, 64);
  r.Finish();
}

Result<Sample> LoadSample(std::string_view yaml) {
  auto node = ParseYaml(yaml, "test.yaml");
  if (!node) return node.error();
  Diagnostics diag("test.yaml");
  Sample s;
  MapReader r(*node, "", &diag);
  r.ReadMap("listener", [&](MapReader& m) { ReadListener(m, &s.listener); });
  r.Read("enabled", &s.enabled);
  r.Read("ratio", &s.ratio, 0.0, 1.0);
  r.ReadDuration("timeout", &s.timeout, milliseconds(1));
  r.ReadSize("max_body", &s.max_body, 1);
  r.ReadEnum("mode", &s.mode, {"fast", "safe"});
  r.Read("tags", &s.tags);
  r.ReadSequence("upstreams", [&](const YAML::Node& item, const std::string& path) {
    Listener l;
    MapReader m(item, path, &diag);
    m.Require("port");
    ReadListener(m, &l);
    s.upstreams.push_back(l);
  });
  r.Finish();
  if (!diag.ok()) return diag.ToError();
  return s;
}

TEST(MapReaderTest, ReadsTypedFieldsAndKeepsDefaultsForAbsentOnes) {
  auto s = LoadSample(R"(
listener:
  port: 9000
enabled: true
timeout: 250ms
max_body: 4MiB
mode: safe
tags: [a, b]
upstreams:
  - {port: 1}
  - {port: 2, address: 10.0.0.1}
)");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->listener.address, "127.0.0.1");
  EXPECT_EQ(s->listener.port, 9000);
  EXPECT_TRUE(s->enabled);
  EXPECT_EQ(s->ratio, 0.5);
  EXPECT_EQ(s->timeout, milliseconds(250));
  EXPECT_EQ(s->max_body, 4u << 20);
  EXPECT_EQ(s->mode, "safe");
  EXPECT_EQ(s->tags, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(s->upstreams.size(), 2u);
  EXPECT_EQ(s->upstreams[1].address, "10.0.0.1");
}

TEST(MapReaderTest, EmptyDocumentMeansAllDefaults) {
  auto s = LoadSample("");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->listener.port, 8000);
}

TEST(MapReaderTest, ReportsEveryErrorWithPathAndLine) {
  auto s = LoadSample(R"(listener:
  port: 70000
  workers: 0
  colour: blue
enabled: yes
ratio: 1.5
timeout: 10
max_body: 4 parsecs
mode: reckless
tags: {a: 1}
upstreams:
  - {address: x}
  - port: [1]
)");
  ASSERT_FALSE(s);
  const std::string& m = s.error().message;
  EXPECT_NE(m.find("test.yaml:2:9: listener.port: must be between 0 and 65535, got 70000"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("test.yaml:3:12: listener.workers: must be between 1 and 64, got 0"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("test.yaml:4:3: listener.colour: unknown field"), std::string::npos) << m;
  EXPECT_NE(m.find("enabled: expected true or false, got 'yes'"), std::string::npos) << m;
  EXPECT_NE(m.find("ratio: must be between 0 and 1, got 1.5"), std::string::npos) << m;
  EXPECT_NE(m.find("timeout: invalid duration '10': missing unit"), std::string::npos) << m;
  EXPECT_NE(m.find("max_body: invalid size '4 parsecs'"), std::string::npos) << m;
  EXPECT_NE(m.find("mode: must be one of [fast, safe], got 'reckless'"), std::string::npos) << m;
  EXPECT_NE(m.find("tags: expected a sequence of strings, got a mapping"), std::string::npos) << m;
  EXPECT_NE(m.find("upstreams[0].port: required field is missing"), std::string::npos) << m;
  EXPECT_NE(m.find("upstreams[1].port: expected an integer, got a sequence"), std::string::npos)
      << m;
  // One line per error, nothing swallowed.
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n') + 1, 11) << m;
}

TEST(MapReaderTest, RejectsDuplicateKeysAndNonMappingRoot) {
  auto dup = LoadSample("enabled: true\nenabled: false\n");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("enabled: duplicate key"), std::string::npos);
  auto list = LoadSample("- 1\n- 2\n");
  ASSERT_FALSE(list);
  EXPECT_NE(list.error().message.find("expected a mapping, got a sequence"), std::string::npos);
}

TEST(MapReaderTest, IntegerOverflowIsARangeErrorNotACrash) {
  auto s = LoadSample("listener: {port: 99999999999999999999999}\n");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("listener.port: must be between"), std::string::npos);
}

TEST(ParseYamlTest, SyntaxErrorsCarryLineAndColumn) {
  auto n = ParseYaml("a: [1, 2\nb: 3\n", "bad.yaml");
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, Errc::kInvalidArgument);
  EXPECT_NE(n.error().message.find("bad.yaml:"), std::string::npos);
  EXPECT_NE(n.error().message.find("invalid YAML"), std::string::npos);
}

TEST(ParseYamlTest, DeepNestingIsAnErrorNotAStackOverflow) {
  std::string deep(100000, '[');
  EXPECT_FALSE(ParseYaml(deep));
}

TEST(LoadYamlFileTest, MissingFileIsNotFoundAndOversizedIsRejected) {
  auto missing = LoadYamlFile("/nonexistent/brix.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound);

  std::string path = testing::TempDir() + "/big.yaml";
  {
    std::ofstream out(path);
    out << "a: " << std::string(100, 'x') << "\n";
  }
  EXPECT_TRUE(LoadYamlFile(path));
  auto big = LoadYamlFile(path, 10);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("larger than 10 bytes"), std::string::npos);
  std::remove(path.c_str());
}

TEST(MapReaderDeathTest, ForgettingFinishIsABug) {
  Diagnostics diag;
  EXPECT_DEATH({ MapReader r(YAML::Node(), "x", &diag); }, "without Finish");
}

}  // namespace
}  // namespace brix::config
