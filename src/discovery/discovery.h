// Discovery: where the gateway learns which models exist and which endpoints serve them.
//
//   Result<std::unique_ptr<Source>> source = MakeStaticFileSource({.file = "endpoints.yaml"});
//   Result<void> started = (*source)->Start([&](std::shared_ptr<const Topology> t) { ... });
//   ...
//   (*source)->Stop();
//
// A Source delivers whole snapshots (Topology), never deltas: the consumer diffs by endpoint name.
// Backends: a static YAML file, watched and reloaded on change; the controller's watch API
// (MakeControllerSource); `brix up` runs the gateway with the controller's in-process source
// (controller/controller.h). The Kubernetes backend implements the same interface later.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace brix::discovery {

// One engine server (a vLLM/SGLang/brix sim process).
struct Endpoint {
  std::string name;  // unique in the topology; defaults to "host:port"
  std::string host;  // IP literal or DNS name
  uint16_t port = 0;
  // Models the endpoint serves as declared by the source. Empty: the gateway learns them from
  // the endpoint's GET /v1/models (base models and LoRA adapters).
  std::vector<std::string> models;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Per-model settings; every field optional (the gateway's defaults apply).
struct ModelSpec {
  std::string name;
  std::optional<std::string> routing_strategy;               // e.g. "least-request"
  std::optional<std::chrono::milliseconds> request_timeout;  // whole request deadline

  friend bool operator==(const ModelSpec&, const ModelSpec&) = default;
};

struct Topology {
  std::vector<ModelSpec> models;
  std::vector<Endpoint> endpoints;
  uint64_t generation = 0;  // increases with every snapshot a source delivers

  friend bool operator==(const Topology&, const Topology&) = default;
};

// A place topologies come from. Owned by its creator; Start() and Stop() are called from one
// controlling thread, never from inside `on_change`. Destroying a Source stops it.
class Source {
 public:
  using Callback = std::function<void(std::shared_ptr<const Topology>)>;

  virtual ~Source() = default;
  // Loads the first snapshot and calls `on_change` with it before returning (an error here,
  // e.g. a bad file, fails Start), then watches and calls `on_change` on each change from the
  // source's own thread. Calls never overlap. Generations start at 1. `on_change` must not
  // throw and should return quickly (it delays the next check). Starting twice or after Stop()
  // is FailedPrecondition.
  virtual Result<void> Start(Callback on_change) = 0;
  // Stops watching; no call of `on_change` runs after Stop() returns. Idempotent.
  virtual void Stop() = 0;
};

struct StaticFileOptions {
  std::filesystem::path file;
  // How often the file is checked for a change (inode, size, mtime, content); 1ms to 24h. A
  // change is picked up within about two intervals (it must be seen twice, so that a file
  // caught half-written is not delivered).
  std::chrono::milliseconds poll_interval = std::chrono::milliseconds(500);
};

// The static backend. A reload that fails to read or parse keeps the previous topology and logs
// the error with its YAML path; the next good version is picked up. Rewrites that leave the
// topology unchanged (same bytes, comments) deliver nothing. The file is not touched before
// Start(), whose errors are InvalidArgument (every parse error, one per line), NotFound,
// PermissionDenied or Unavailable. InvalidArgument here for an empty path or poll_interval.
Result<std::unique_ptr<Source>> MakeStaticFileSource(StaticFileOptions options);

struct ControllerSourceOptions {
  std::string host = "127.0.0.1";  // the controller's admin API (controller/admin.h)
  uint16_t port = 0;
  std::string token;  // its bearer token
  // Longest one long poll waits for a change before asking again; 1 s to 60 s.
  std::chrono::milliseconds poll_timeout = std::chrono::seconds(25);
};

// The controller backend (`brix gateway --controller`): long polls the controller's
// GET /v1/topology, so a change (a replica ready, dead or draining) arrives within a round trip.
// Start() fails (Unavailable, Unauthenticated) when the first topology cannot be read. Later
// failures (the controller restarting) keep the last topology, the engines keep serving, and
// the source retries with backoff (100 ms doubling to 2 s); a restarted controller's topology
// is taken whatever its generation. InvalidArgument for a missing port or token.
Result<std::unique_ptr<Source>> MakeControllerSource(ControllerSourceOptions options);

// The topology JSON of the controller's watch API: {"epoch", "generation", "models": [{"name",
// "routingStrategy"?}], "endpoints": [{"name", "host", "port", "models"}]}. The generation and
// epoch come back separately; the topology's own generation is left 0.
struct WatchedTopology {
  Topology topology;
  uint64_t generation = 0;
  std::string epoch;
};
Result<WatchedTopology> ParseTopologyJson(std::string_view text);

// Parses the static file format (see src/discovery/README.md). `source_name` prefixes errors,
// which carry the YAML path: "endpoints.yaml:4:11: endpoints[1].port: must be between 1 and
// 65535, got 0".
Result<Topology> ParseTopologyYaml(std::string_view text, std::string_view source_name);

}  // namespace brix::discovery
