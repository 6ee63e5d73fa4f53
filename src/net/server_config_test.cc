#include "net/server_config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace brix::net {
namespace {

using namespace std::chrono_literals;

// Parses `yaml` as one `server:` mapping; returns the diagnostics text ("" when clean).
std::string Parse(const std::string& yaml, ServerConfig* out) {
  config::Diagnostics diag{"test.yaml"};
  auto root = config::ParseYaml(yaml, "test.yaml");
  if (!root) return root.error().message;
  {
    config::MapReader r(*root, "server", &diag);
    ReadServerConfig(r, out);
  }
  return diag.ok() ? "" : diag.ToError().message;
}

TEST(ServerConfigTest, EmptyKeepsDefaults) {
  ServerConfig cfg;
  EXPECT_EQ(Parse("", &cfg), "");
  ServerConfig defaults;
  EXPECT_EQ(cfg.address, defaults.address);
  EXPECT_EQ(cfg.max_body_bytes, defaults.max_body_bytes);
  EXPECT_EQ(cfg.idle_timeout, defaults.idle_timeout);
}

TEST(ServerConfigTest, ReadsEveryField) {
  ServerConfig cfg;
  EXPECT_EQ(Parse(R"(address: "::"
port: 8000
workers: 4
share_port: true
max_header_size: 32KiB
max_body_size: 1MiB
header_timeout: 5s
body_timeout: 20s
idle_timeout: 90s
send_timeout: 10s
linger_timeout: 500ms
max_connections: 2000
drain_timeout: 15s
)",
                  &cfg),
            "");
  EXPECT_EQ(cfg.address, "::");
  EXPECT_EQ(cfg.port, 8000);
  EXPECT_EQ(cfg.workers, 4);
  EXPECT_TRUE(cfg.share_port);
  EXPECT_EQ(cfg.max_header_bytes, 32u * 1024);
  EXPECT_EQ(cfg.max_body_bytes, 1u << 20);
  EXPECT_EQ(cfg.header_timeout, 5s);
  EXPECT_EQ(cfg.body_timeout, 20s);
  EXPECT_EQ(cfg.idle_timeout, 90s);
  EXPECT_EQ(cfg.send_timeout, 10s);
  EXPECT_EQ(cfg.linger_timeout, 500ms);
  EXPECT_EQ(cfg.max_connections, 2000u);
  EXPECT_EQ(cfg.drain_timeout, 15s);
}

TEST(ServerConfigTest, ReportsEveryBadFieldWithItsPath) {
  ServerConfig cfg;
  std::string err = Parse(R"(address: localhost
port: 70000
workers: 0
share_port: sometimes
max_header_size: 10
idle_timeout: soon
proxy: true
)",
                          &cfg);
  EXPECT_NE(err.find("server.address: must be an IPv4 or IPv6 address literal"), std::string::npos)
      << err;
  EXPECT_NE(err.find("server.port"), std::string::npos) << err;
  EXPECT_NE(err.find("server.workers"), std::string::npos) << err;
  EXPECT_NE(err.find("server.share_port"), std::string::npos) << err;
  EXPECT_NE(err.find("server.max_header_size"), std::string::npos) << err;
  EXPECT_NE(err.find("server.idle_timeout"), std::string::npos) << err;
  EXPECT_NE(err.find("server.proxy: unknown field"), std::string::npos) << err;
}

}  // namespace
}  // namespace brix::net
