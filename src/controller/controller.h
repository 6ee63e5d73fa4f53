// Controller, local backend: makes the engines running on this machine match the ModelDeployment
// objects in the store, and tells the gateway where they are (issue 9, `brix up`).
//
//   Result<std::unique_ptr<Controller>> c = Controller::Create({.store = store.get(),
//       .instance = "/abs/path/.brix/brix.db", .log_dir = ".brix/logs", .brix_binary = self});
//   (*c)->Start();                     // adopts engines a previous run left, starts reconciling
//   auto g = gateway::Gateway::Create(options, registry, (*c)->MakeSource());
//   ...
//   (*c)->Stop(/*stop_engines=*/true); // drains and stops every engine
//
// Level-based: every tick (100 ms) it looks at the objects and the processes and acts on the
// difference (plan.h decides how many to start and which to drain). Each replica is one engine
// process, its own child: `brix sim` or the spec's command line with {port} and {model} filled
// in, on a free loopback port, logging to <log_dir>/<replica>.log.
//
// A replica's life: starting (until GET /health answers 200; past spec.readyTimeout it is
// killed and counts as a crash) -> ready (in the gateway's topology) -> unready after
// `unready_after` failed health probes in a row (out of the topology; killed and restarted after
// `restart_after`) -> back to ready when a probe passes. An engine that exits is restarted
// under the same name after a backoff (1 s doubling to 30 s; forgiven after a minute ready).
// Draining (scale-down, rollout, deleted object, Stop): out of the topology at once, SIGTERM
// after `drain_delay` (requests already routed finish; engines drain on SIGTERM), SIGKILL to its
// process group after `stop_timeout`.
//
// Crash safety: engines carry markers in their environment (BRIX_CONTROLLER=<instance>,
// BRIX_REPLICA=<ns>/<deployment>/<name>, port, spec hash). A controller that starts finds the
// engines of its instance in /proc and adopts them (the kernel's start time guards against a
// reused pid), so a controller killed with SIGKILL and started again runs the same engines, none
// twice; replicas of deleted objects or over the count are drained as usual. Each object's
// status (replicas, readyReplicas, updatedReplicas, observedGeneration, instances) is written
// back to the store when it changes.
//
// Threading: one thread of its own (reconcile loop and health probes, on one io_context);
// Replicas(), CurrentTopology() and sources are safe from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/api.h"
#include "base/error.h"
#include "discovery/discovery.h"
#include "store/store.h"

namespace brix::controller {

struct ControllerOptions {
  store::ObjectStore* store = nullptr;  // not owned; outlives the controller
  // Marks this controller's engines; two controllers with the same instance would fight over
  // them (brix up uses the store's absolute path and holds a lock on it).
  std::string instance;
  std::filesystem::path log_dir;      // engine logs
  std::filesystem::path brix_binary;  // runs engines of type sim
  std::string host = "127.0.0.1";     // where engines listen
  std::chrono::milliseconds tick{100};
  std::chrono::milliseconds probe_interval{1000};  // of ready replicas (starting: 5x as often)
  std::chrono::milliseconds probe_timeout{1000};
  int unready_after = 2;
  int restart_after = 10;
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds backoff_reset{60000};
  std::chrono::milliseconds drain_delay{1000};
  std::chrono::milliseconds stop_timeout{30000};
  // Told of every state change in words ("llama-x7k2p ready on 127.0.0.1:41235 (pid 8812)"),
  // from the controller's thread.
  std::function<void(const std::string&)> on_event;
};

// One replica as `brix get` shows it.
struct ReplicaInfo {
  std::string ns;
  std::string deployment;
  std::string name;
  std::string model;
  std::string state;  // starting, ready, unready, backoff, draining
  pid_t pid = 0;      // 0 while in backoff
  uint16_t port = 0;
  int restarts = 0;
  bool adopted = false;         // found running when this controller started
  bool current = true;          // runs the object's current spec
  std::string last_exit;        // how its last process ended, if one did
  int64_t started_unix_ms = 0;  // its current process
};

class Controller {
 public:
  static Result<std::unique_ptr<Controller>> Create(ControllerOptions options);
  ~Controller();  // Stop(false) if still running

  // Adopts the engines of this instance, then reconciles on its own thread.
  Result<void> Start();
  // Stops reconciling. stop_engines: first drains every replica and waits for the processes to
  // end (up to stop_timeout after drain_delay); otherwise leaves them running for the next
  // controller to adopt. Idempotent.
  void Stop(bool stop_engines);

  std::vector<ReplicaInfo> Replicas() const;
  std::shared_ptr<const discovery::Topology> CurrentTopology() const;
  // Random per controller object: topology generations restart with a new controller, so a
  // watcher that sees another epoch takes the topology whatever its generation.
  const std::string& epoch() const;
  // A discovery source for a gateway in this process: the ready replicas, each serving its
  // object's model. Must be stopped (or destroyed) before the controller is destroyed.
  std::unique_ptr<discovery::Source> MakeSource();
  // Reconcile now rather than at the next tick (after a write through the admin API).
  void Poke();

  struct Impl;

 private:
  explicit Controller(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Stable hash (FNV-1a) of what a replica's process depends on: model, engine and resources.
// Replicas whose hash differs from their object's are replaced one at a time.
std::string SpecHash(const api::ModelDeploymentSpec& spec);

}  // namespace brix::controller
