#include "cmd/brix_config.h"

#include <gtest/gtest.h>

namespace brix::cmd {
namespace {

TEST(BrixConfigTest, EmptyFileGivesDefaults) {
  auto cfg = ParseBrixConfig("", "empty.yaml");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->log.level, "info");
  EXPECT_EQ(cfg->log.format, "text");
}

TEST(BrixConfigTest, ReadsLogSection) {
  auto cfg = ParseBrixConfig("log:\n  level: debug\n  format: json\n", "x.yaml");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->log.level, "debug");
  EXPECT_EQ(cfg->log.format, "json");
}

TEST(BrixConfigTest, ReportsUnknownSectionsAndBadValuesTogether) {
  auto cfg = ParseBrixConfig("log:\n  level: loud\ngatewy: {}\n", "x.yaml");
  ASSERT_FALSE(cfg);
  EXPECT_NE(cfg.error().message.find("x.yaml:2:10: log.level: must be one of"), std::string::npos)
      << cfg.error().message;
  EXPECT_NE(cfg.error().message.find("x.yaml:3:1: gatewy: unknown field"), std::string::npos)
      << cfg.error().message;
}

TEST(BrixConfigTest, ReadsServerSection) {
  auto cfg = ParseBrixConfig("server:\n  port: 8000\n  idle_timeout: 5s\n", "x.yaml");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->server.port, 8000);
  EXPECT_EQ(cfg->server.idle_timeout, std::chrono::seconds(5));
}

}  // namespace
}  // namespace brix::cmd
