// Gateway: `brix gateway`, the OpenAI-compatible front door. It takes chat, completion and
// embedding requests, picks an engine endpoint with a router policy (router/), forwards the
// request and streams the answer back as it arrives.
//
//   GatewayOptions options;                       // flags / the `gateway:` config section
//   options.endpoints_file = "endpoints.yaml";    // the static discovery backend
//   Result<std::unique_ptr<Gateway>> gateway = Gateway::Create(options, registry);
//   Result<uint16_t> port = (*gateway)->Start();  // first topology loaded, scraping started
//   ...
//   (*gateway)->Stop();                           // drains streams, stops scraping
//
// Endpoints: POST /v1/chat/completions, /v1/completions, /v1/embeddings; GET /v1/models (the
// union of what the engines serve), /health, /ready, /metrics.
//
// Threading: the HTTP server's workers handle requests (one io_context each, one upstream
// connection pool each); one more thread scrapes the engines (metrics, models, health probes);
// the discovery source has its own thread. Shared state is immutable snapshots behind atomic
// shared_ptrs plus per-endpoint atomics (in-flight counts, health).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "discovery/discovery.h"
#include "gateway/fair_share.h"
#include "metrics/registry.h"
#include "net/server.h"

namespace brix::gateway {

// Passive and active health: when an endpoint is taken out of rotation and when it returns.
struct EjectionOptions {
  // Failures in a row (connect error, reset, 5xx, failed scrape connection) that eject.
  int consecutive_failures = 3;
  // First ejection time; doubles with each ejection in a row, up to max_ejection.
  std::chrono::milliseconds base_ejection{1000};
  std::chrono::milliseconds max_ejection{30000};
};

// Tenants, API keys and quotas (gateway/README.md "Tenants").
struct TenancyOptions {
  // SQLite file with the tenants and their API keys (created if absent). Empty: an open gateway,
  // no keys asked and no quotas.
  std::filesystem::path db;
  // Where quotas are counted: "local" (this process) or "redis://HOST:PORT" (shared by every
  // gateway pointed at it).
  std::string quota_backend = "local";
  // When the quota backend cannot decide within quota_timeout: admit uncounted (true) or answer
  // 503 (false).
  bool fail_open = true;
  std::chrono::milliseconds quota_timeout{100};
  // Addresses or networks whose `user` header names the tenant (a trusted proxy in front).
  std::vector<std::string> trusted_callers;
  // How often the database is checked for other gateways' writes.
  std::chrono::milliseconds reload_interval{1000};
  // The admin API (admin.h): off unless admin_enabled; it needs admin_token.
  bool admin_enabled = false;
  net::ServerConfig admin_server;
  std::string admin_token;
};

struct GatewayOptions {
  // The static discovery file (discovery/README.md) and how often it is checked for changes.
  std::filesystem::path endpoints_file;
  std::chrono::milliseconds discovery_poll_interval{500};
  // Directory with tokenizer.json (and tokenizer_config.json): the gateway tokenizes prompts
  // with it (the canonical chat serialisation for chat) for policies that route on token ids
  // (brix, prefix-cache, ...). One tokenizer for every model: prefix matching needs the same
  // ids for the same text, not the engine's exact ids, and the counts are close between
  // families. Empty: no tokenizer, and those policies are refused.
  std::filesystem::path tokenizer_dir;
  // Policy when neither the request's `routing-strategy` header nor the model's config names
  // one.
  std::string default_routing_strategy = "least-request";
  // Whole-request deadline when the model does not set one (upstream header and body).
  std::chrono::milliseconds request_timeout{600000};
  // Attempts after the first on other endpoints, for failures before any byte reached the
  // client (connect errors, 5xx, a stream broken before its first byte).
  int max_retries = 2;
  // Longest a new upstream connection may take; past it the attempt counts as a connect failure
  // (retried elsewhere, towards ejection) instead of waiting out the request deadline.
  std::chrono::milliseconds connect_timeout{3000};
  // Idle keep-alive connections each worker keeps per endpoint.
  size_t max_idle_upstream_connections = 4096;
  // Engine /metrics scrape period (+-10% jitter) and per-scrape deadline.
  std::chrono::milliseconds scrape_interval{100};
  std::chrono::milliseconds scrape_timeout{1000};
  // How often GET /v1/models is asked of endpoints whose models are not declared.
  std::chrono::milliseconds models_refresh_interval{2000};
  EjectionOptions ejection;
  // Largest non-streamed upstream body the gateway buffers; a bigger one fails the request with
  // 502 (streams are forwarded piece by piece and have no limit).
  size_t max_response_bytes = 64 << 20;
  // "off", "-" (stdout) or a file path: one JSON line per request.
  std::string access_log = "off";
  net::ServerConfig server;
  TenancyOptions tenancy;
  // Admission when engines are saturated (fair_share.h): off unless max_in_flight_per_endpoint.
  FairShareOptions fair_share;
};

class Gateway {
 public:
  // Validates the options and policy names; registers metrics in `registry` (which must outlive
  // the gateway). Endpoints come from `source` when given (the controller's or Kubernetes'
  // backend, a test's fake), else from the static file options.endpoints_file.
  static Result<std::unique_ptr<Gateway>> Create(
      GatewayOptions options, metrics::Registry& registry,
      std::unique_ptr<discovery::Source> source = nullptr);
  ~Gateway();

  // Loads the first topology (a bad file fails here), starts scraping and listens.
  Result<uint16_t> Start();
  // The admin API's port (after Start()); 0 when it is off.
  uint16_t admin_port() const;
  // Stops accepting, drains in-flight requests and streams, stops scraping. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace brix::gateway
