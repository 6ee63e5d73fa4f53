#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/check.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/logging.h"

namespace brix {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgument("must be positive");
  return v;
}

TEST(ResultTest, CarriesValueOrError) {
  auto ok = ParsePositive(3);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 3);
  auto bad = ParsePositive(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(bad.error().ToString(), "invalid_argument: must be positive");
}

TEST(ResultTest, VoidResultDefaultsToSuccess) {
  Result<void> r;
  EXPECT_TRUE(r);
  Result<void> e = Unavailable("down");
  EXPECT_FALSE(e);
}

TEST(ResultDeathTest, ValueOnErrorAborts) {
  EXPECT_DEATH((void)ParsePositive(0).value(), "must be positive");
}

TEST(CheckDeathTest, FailingCheckPrintsConditionAndMessage) {
  int x = 1;
  EXPECT_DEATH(BRIX_CHECK(x == 2) << "x was " << x, "check failed: x == 2 x was 1");
}

TEST(CheckTest, PassingCheckEvaluatesConditionOnce) {
  int calls = 0;
  BRIX_CHECK(++calls == 1) << "not evaluated";
  EXPECT_EQ(calls, 1);
}

TEST(ErrcTest, EveryCodeHasAName) {
  for (auto c :
       {Errc::kInvalidArgument, Errc::kNotFound, Errc::kAlreadyExists, Errc::kFailedPrecondition,
        Errc::kResourceExhausted, Errc::kUnavailable, Errc::kDeadlineExceeded, Errc::kCancelled,
        Errc::kUnauthenticated, Errc::kPermissionDenied, Errc::kInternal}) {
    EXPECT_NE(ErrcName(c), "unknown");
  }
}

TEST(ManualClockTest, MovesOnlyWhenTold) {
  base::ManualClock clock;
  auto t0 = clock.Now();
  auto w0 = clock.WallNow();
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(std::chrono::milliseconds(250));
  EXPECT_EQ(clock.Now() - t0, std::chrono::milliseconds(250));
  EXPECT_EQ(clock.WallNow() - w0, std::chrono::milliseconds(250));
  clock.Set(t0 + std::chrono::seconds(2));
  EXPECT_EQ(clock.Now() - t0, std::chrono::seconds(2));
}

TEST(ManualClockDeathTest, RefusesToGoBack) {
  base::ManualClock clock;
  auto t0 = clock.Now();
  clock.Advance(std::chrono::seconds(1));
  EXPECT_DEATH(clock.Set(t0), "cannot go back");
}

TEST(RealClockTest, IsMonotonic) {
  auto a = base::RealClock().Now();
  auto b = base::RealClock().Now();
  EXPECT_LE(a, b);
}

TEST(IdsTest, RequestIdsAreHexAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = base::NewRequestId();
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(IdsTest, AppendRandomHexAppendsExactlyThatManyHexCharacters) {
  for (size_t chars : {0u, 1u, 15u, 16u, 17u, 40u}) {
    std::string s = "00-";
    base::AppendRandomHex(&s, chars);
    ASSERT_EQ(s.size(), 3 + chars);
    EXPECT_EQ(s.substr(0, 3), "00-");
    EXPECT_EQ(s.find_first_not_of("0123456789abcdef", 3), std::string::npos);
  }
}

TEST(IdsTest, AppendRandomHexUsesEveryDigitAtEveryPosition) {
  // 17 characters: two whole 64-bit draws' worth of pairs and the odd last one. Missing a digit
  // at a position in 2,000 draws has probability (15/16)^2000, about 1e-56.
  std::vector<std::set<char>> seen(17);
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    base::AppendRandomHex(&s, 17);
    for (size_t p = 0; p < s.size(); ++p) seen[p].insert(s[p]);
  }
  for (size_t p = 0; p < seen.size(); ++p) EXPECT_EQ(seen[p].size(), 16u) << "position " << p;
}

TEST(LoggingTest, RejectsUnknownLevelAndFormat) {
  EXPECT_FALSE(base::InitLogging({.level = "loud", .format = "text"}));
  EXPECT_FALSE(base::InitLogging({.level = "info", .format = "xml"}));
  EXPECT_TRUE(base::InitLogging({.level = "off", .format = "json"}));
  EXPECT_TRUE(base::InitLogging({.level = "warn", .format = "text"}));
}

TEST(LoggingTest, NamedLoggerIsSharedAndFollowsLevel) {
  ASSERT_TRUE(base::InitLogging({.level = "error", .format = "text"}));
  auto a = base::Logger("test-component");
  auto b = base::Logger("test-component");
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(a->level(), spdlog::level::err);
  ASSERT_TRUE(base::InitLogging({.level = "debug", .format = "text"}));
  EXPECT_EQ(a->level(), spdlog::level::debug);
}

TEST(JsonTest, EveryDoubleWrittenReadsBackAsItself) {
  // boost::json::parse (1.81) reads 458124.55122160283, which it writes for that double, as the
  // double one ulp below; ParseJsonExact must not, for any double.
  boost::system::error_code ec;
  EXPECT_EQ(ParseJsonExact("458124.55122160283", ec).as_double(), 458124.55122160283);
  EXPECT_EQ(ParseJsonExact("1.666666666666666666", ec).as_double(), 1.6666666666666667);
  // A long integer beyond uint64 is a double: Boost reads 1.0000000000399998e53 here.
  EXPECT_EQ(
      ParseJsonExact("100000000004000000000000000000000000000000000000000000", ec).as_double(),
      1.00000000004e53);
  std::mt19937_64 random(7);
  for (int i = 0; i < 20000; ++i) {
    const double x = std::uniform_real_distribution<double>(-1e6, 1e6)(random);
    const std::string text = boost::json::serialize(boost::json::value(x));
    const boost::json::value back = ParseJsonExact(text, ec);
    ASSERT_FALSE(ec) << text;
    ASSERT_EQ(back.as_double(), x) << text;
  }
}

TEST(JsonTest, ParsesDocumentsAsBoostDoesOtherwise) {
  boost::system::error_code ec;
  const boost::json::value v =
      ParseJsonExact(R"({"a":[1,-2,18446744073709551615,2.5e-3,"s\u00e9",true,null],"b":{}})", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(boost::json::serialize(v),
            R"({"a":[1,-2,18446744073709551615,2.5E-3,"sé",true,null],"b":{}})");
  // Beyond a double's range: refused (Boost reads infinity and writes it back as `Infinity`).
  EXPECT_TRUE(ParseJsonExact("[1e999]", ec).is_null());
  EXPECT_EQ(ec, boost::json::error::exponent_overflow);
  EXPECT_EQ(ParseJsonExact("-1e999", ec), nullptr);
  EXPECT_TRUE(ec);
  ec = {};
  EXPECT_EQ(ParseJsonExact("1e-999", ec).as_double(), 0);  // too small is zero, as Boost reads it
  EXPECT_FALSE(ec);
  EXPECT_EQ(ParseJsonExact("-0.0e5324", ec).as_double(), 0);  // zero, where Boost reads NaN
  EXPECT_FALSE(ec);
  for (const char* bad : {"", "{", "[1,]", "{} x", "01", "1.", "\"\\x\""}) {
    ec = {};
    EXPECT_TRUE(ParseJsonExact(bad, ec).is_null()) << bad;
    EXPECT_TRUE(ec) << bad;
  }
  boost::json::parse_options deep;
  deep.max_depth = 2;
  ParseJsonExact("[[[1]]]", ec, deep);
  EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace brix
