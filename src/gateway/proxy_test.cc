#include "gateway/internal/proxy.h"

#include <gtest/gtest.h>

namespace brix::gateway {
namespace {

TEST(TraceparentTest, KeepsTraceIdAndFlagsWithANewParentId) {
  std::string trace;
  const std::string in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  std::string out = NextTraceparent(in, &trace);
  EXPECT_EQ(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_EQ(out.size(), 55u);
  EXPECT_EQ(out.substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");
  EXPECT_NE(out.substr(36, 16), "00f067aa0ba902b7");
  EXPECT_EQ(out.substr(52), "-01");
}

TEST(TraceparentTest, StartsANewTraceForMissingOrMalformedHeaders) {
  for (std::string_view bad :
       {"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"}) {
    std::string trace;
    std::string out = NextTraceparent(bad, &trace);
    EXPECT_EQ(trace.size(), 32u) << bad;
    EXPECT_EQ(out.size(), 55u) << bad;
    EXPECT_EQ(out.substr(3, 32), trace) << bad;
    EXPECT_EQ(out.substr(52), "-00") << bad;
  }
}

TEST(TraceparentTest, AcceptsFutureFieldsAfterTheFlags) {
  std::string trace;
  std::string out =
      NextTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", &trace);
  EXPECT_EQ(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
}

}  // namespace
}  // namespace brix::gateway
