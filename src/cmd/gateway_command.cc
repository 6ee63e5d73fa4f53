// `brix gateway`: the OpenAI-compatible gateway in front of engine endpoints (gateway/gateway.h).
#include <fmt/core.h>
#include <pthread.h>

#include <cctype>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>

#include "base/logging.h"
#include "cmd/admin_client.h"
#include "cmd/commands.h"
#include "config/units.h"
#include "discovery/discovery.h"
#include "gateway/gateway.h"
#include "metrics/registry.h"

namespace brix::cmd {
namespace {

struct GatewayFlags {
  gateway::GatewayOptions options;
  std::string endpoints;
  std::string controller;
  std::string controller_token_file;
  std::string request_timeout = "600s";
  std::string scrape_interval = "100ms";
  std::string scrape_timeout = "1s";
  std::string models_refresh = "2s";
  std::string connect_timeout = "3s";
  std::string drain_timeout = "30s";
  std::string log_level = "info";
  std::string quota_fail = "open";
  std::string quota_timeout = "100ms";
  std::string tenants_reload = "1s";
  std::string queue_timeout = "30s";
  int admin_port = -1;
  std::string admin_host = "127.0.0.1";
  std::string admin_token_file;
};

// The admin token: from a file (trailing whitespace dropped) or, failing that, $BRIX_ADMIN_TOKEN;
// never from a flag, which every user of the machine can read in the process list.
Result<std::string> AdminToken(const std::string& file) {
  std::string token;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in)
      return Error{Errc::kInvalidArgument, fmt::format("--admin-token-file: cannot read {}", file)};
    std::getline(in, token, '\0');
  } else if (const char* env = std::getenv("BRIX_ADMIN_TOKEN")) {
    token = env;
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.size() < 16) {
    return Error{Errc::kInvalidArgument,
                 "the admin API needs a token of at least 16 characters, from "
                 "--admin-token-file or $BRIX_ADMIN_TOKEN"};
  }
  return token;
}

Result<std::chrono::milliseconds> Millis(std::string_view flag, const std::string& text) {
  auto d = config::ParseDuration(text);
  if (!d) return Error{Errc::kInvalidArgument, fmt::format("{}: {}", flag, d.error().message)};
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  if (ms.count() <= 0) {
    return Error{Errc::kInvalidArgument, fmt::format("{}: must be at least 1ms", flag)};
  }
  return ms;
}

int RunGateway(GatewayFlags& f) {
  gateway::GatewayOptions& o = f.options;
  o.endpoints_file = f.endpoints;
  struct {
    std::string_view flag;
    const std::string* text;
    std::chrono::milliseconds* out;
  } durations[] = {
      {"--request-timeout", &f.request_timeout, &o.request_timeout},
      {"--scrape-interval", &f.scrape_interval, &o.scrape_interval},
      {"--scrape-timeout", &f.scrape_timeout, &o.scrape_timeout},
      {"--models-refresh-interval", &f.models_refresh, &o.models_refresh_interval},
      {"--connect-timeout", &f.connect_timeout, &o.connect_timeout},
      {"--drain-timeout", &f.drain_timeout, &o.server.drain_timeout},
      {"--quota-timeout", &f.quota_timeout, &o.tenancy.quota_timeout},
      {"--tenants-reload-interval", &f.tenants_reload, &o.tenancy.reload_interval},
      {"--queue-timeout", &f.queue_timeout, &o.fair_share.queue_timeout},
  };
  for (auto& d : durations) {
    auto ms = Millis(d.flag, *d.text);
    if (!ms) {
      fmt::print(stderr, "brix gateway: {}\n", ms.error().message);
      return kExitUsage;
    }
    *d.out = *ms;
  }
  if (f.quota_fail != "open" && f.quota_fail != "closed") {
    fmt::print(stderr, "brix gateway: --quota-fail: must be open or closed, not '{}'\n",
               f.quota_fail);
    return kExitUsage;
  }
  o.tenancy.fail_open = f.quota_fail == "open";
  if (f.admin_port >= 0) {
    if (o.tenancy.db.empty()) {
      fmt::print(stderr, "brix gateway: --admin-port needs --tenants-db\n");
      return kExitUsage;
    }
    auto token = AdminToken(f.admin_token_file);
    if (!token) {
      fmt::print(stderr, "brix gateway: {}\n", token.error().message);
      return kExitUsage;
    }
    o.tenancy.admin_enabled = true;
    o.tenancy.admin_token = *token;
    o.tenancy.admin_server.address = f.admin_host;
    o.tenancy.admin_server.port = static_cast<uint16_t>(f.admin_port);
    o.tenancy.admin_server.workers = 1;
  }
  if (auto logging = base::InitLogging({.level = f.log_level}); !logging) {
    fmt::print(stderr, "brix gateway: --log-level: {}\n", logging.error().message);
    return kExitUsage;
  }

  if (f.endpoints.empty() == f.controller.empty()) {
    fmt::print(stderr, "brix gateway: give exactly one of --endpoints and --controller\n");
    return kExitUsage;
  }
  std::unique_ptr<discovery::Source> source;
  if (!f.controller.empty()) {
    auto upstream = ParseAdminUrl(f.controller);
    if (!upstream) {
      fmt::print(stderr, "brix gateway: --controller: want http://HOST:PORT, not '{}'\n",
                 f.controller);
      return kExitUsage;
    }
    auto token = ReadAdminToken(f.controller_token_file, "--controller-token-file");
    if (!token) {
      fmt::print(stderr, "brix gateway: {}\n", token.error().message);
      return kExitUsage;
    }
    auto s = discovery::MakeControllerSource(
        {.host = upstream->host, .port = upstream->port, .token = *token});
    if (!s) {
      fmt::print(stderr, "brix gateway: {}\n", s.error().message);
      return kExitUsage;
    }
    source = std::move(*s);
  }

  RaiseOpenFileLimit();
  ShutdownSignals signals;

  metrics::Registry registry;
  auto g = gateway::Gateway::Create(o, registry, std::move(source));
  if (!g) {
    fmt::print(stderr, "brix gateway: {}\n", g.error().message);
    return kExitFailure;
  }
  auto port = (*g)->Start();
  if (!port) {
    fmt::print(stderr, "brix gateway: {}\n", port.error().message);
    return kExitFailure;
  }
  fmt::print("brix gateway: serving on http://{}:{} (endpoints from {}, routing {})\n",
             o.server.address, *port, f.endpoints.empty() ? f.controller : f.endpoints,
             o.default_routing_strategy);
  if (o.tenancy.admin_enabled) {
    fmt::print("brix gateway: admin API on http://{}:{} (tenants in {}, quotas {})\n",
               o.tenancy.admin_server.address, (*g)->admin_port(), o.tenancy.db.string(),
               o.tenancy.quota_backend);
  }
  std::fflush(stdout);
  signals.Wait("gateway");
  (*g)->Stop();
  return kExitOk;
}

}  // namespace

Command AddGatewayCommand(CLI::App& root) {
  auto flags = std::make_shared<GatewayFlags>();
  gateway::GatewayOptions& o = flags->options;
  o.server.port = 8080;
  o.server.max_connections = 100000;
  CLI::App* app = root.add_subcommand(
      "gateway", "Run the OpenAI-compatible gateway: route, proxy and stream to engine endpoints");
  app->add_option("--endpoints", flags->endpoints,
                  "static discovery file (models and endpoints; reloaded on change)");
  app->add_option("--controller", flags->controller,
                  "learn endpoints from a controller's admin API instead (`brix up`'s, "
                  "http://HOST:PORT): its ready replicas, as they change");
  app->add_option("--controller-token-file", flags->controller_token_file,
                  "file holding that controller's admin token (default $BRIX_ADMIN_TOKEN)");
  app->add_option("--host", o.server.address, "address to listen on")->capture_default_str();
  app->add_option("--port", o.server.port, "port (0 = any free port)")->capture_default_str();
  app->add_option("--workers", o.server.workers, "HTTP worker threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app->add_flag("--share-port", o.server.share_port,
                "let other `brix gateway --share-port` processes listen on the same port; the "
                "kernel spreads connections over them (past one process's open-file limit, or for "
                "a restart without a gap)");
  app->add_option("--routing-strategy", o.default_routing_strategy,
                  "policy when neither the request nor the model names one")
      ->capture_default_str();
  app->add_option("--tokenizer", o.tokenizer_dir,
                  "directory with tokenizer.json: prompts are tokenized for policies that route "
                  "on token ids (brix, prefix-cache, ...), which are refused without it");
  app->add_option("--max-retries", o.max_retries,
                  "attempts on other endpoints after a failure before the first byte")
      ->check(CLI::Range(0, 10))
      ->capture_default_str();
  app->add_option("--request-timeout", flags->request_timeout,
                  "whole-request deadline unless the model sets one")
      ->capture_default_str();
  app->add_option("--scrape-interval", flags->scrape_interval, "engine /metrics scrape period")
      ->capture_default_str();
  app->add_option("--scrape-timeout", flags->scrape_timeout, "deadline of one scrape")
      ->capture_default_str();
  app->add_option("--models-refresh-interval", flags->models_refresh,
                  "how often engines' /v1/models is read (endpoints without declared models)")
      ->capture_default_str();
  app->add_option("--connect-timeout", flags->connect_timeout,
                  "longest a new engine connection may take before trying another endpoint")
      ->capture_default_str();
  app->add_option("--drain-timeout", flags->drain_timeout,
                  "on SIGTERM, how long in-flight requests and streams get to finish")
      ->capture_default_str();
  app->add_option("--eject-after", o.ejection.consecutive_failures,
                  "failures in a row that take an endpoint out of rotation")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app->add_option("--max-body-bytes", o.server.max_body_bytes, "largest request body (413 above)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 32))
      ->capture_default_str();
  app->add_option("--max-connections", o.server.max_connections, "open client connections")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24))
      ->capture_default_str();
  app->add_option("--access-log", o.access_log, "off, - (stdout) or a file: JSON lines")
      ->capture_default_str();
  app->add_option("--tenants-db", o.tenancy.db,
                  "SQLite file of tenants and API keys (created if absent): every request then "
                  "needs a key, and tenants' quotas apply");
  app->add_option("--quota-backend", o.tenancy.quota_backend,
                  "where quotas are counted: local (this process) or redis://HOST:PORT (shared "
                  "by every gateway pointed at it)")
      ->capture_default_str();
  app->add_option("--quota-fail", flags->quota_fail,
                  "when the quota backend cannot answer in time: open (admit uncounted) or "
                  "closed (503)")
      ->capture_default_str();
  app->add_option("--quota-timeout", flags->quota_timeout,
                  "longest an admission waits for the quota backend")
      ->capture_default_str();
  app->add_option("--trusted-callers", o.tenancy.trusted_callers,
                  "addresses or CIDR networks whose `user` header names the tenant (a proxy "
                  "that has authenticated the caller)")
      ->delimiter(',');
  app->add_option("--tenants-reload-interval", flags->tenants_reload,
                  "how often the tenants database is checked for other gateways' writes")
      ->capture_default_str();
  app->add_option("--admin-port", flags->admin_port,
                  "serve the admin API (tenants and keys) on this port (0 = any free port); "
                  "its token comes from --admin-token-file or $BRIX_ADMIN_TOKEN")
      ->check(CLI::Range(0, 65535));
  app->add_option("--admin-host", flags->admin_host, "address of the admin API")
      ->capture_default_str();
  app->add_option("--admin-token-file", flags->admin_token_file,
                  "file holding the admin API's bearer token (at least 16 characters)");
  app->add_option("--max-in-flight-per-endpoint", o.fair_share.max_in_flight_per_endpoint,
                  "fair-share admission: past this many requests in flight per endpoint of a "
                  "model, new ones wait at the gateway and are let in by tenant fair share "
                  "(0 = off: they wait in the engines' own FIFO queues)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  app->add_option("--reserve-per-endpoint", o.fair_share.reserve_per_endpoint,
                  "of those slots, how many per endpoint a tenant at or over its share may not "
                  "take (-1 = an eighth)")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 20))
      ->capture_default_str();
  app->add_option("--queue-timeout", flags->queue_timeout,
                  "longest a request waits for a fair-share slot before a 503")
      ->capture_default_str();
  app->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  return Command{app, [flags] { return RunGateway(*flags); }};
}

}  // namespace brix::cmd
