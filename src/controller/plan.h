// Plan: what the controller does next for one ModelDeployment, from what is wanted (replicas,
// the engine spec's hash) and what runs. Pure; the controller (controller.h) carries it out.
//
//   Plan p = PlanDeployment(/*desired=*/4, hash, replicas);
//   // p.create: replicas to start; p.drain: names to take out of rotation and stop
//
// Rules, those of a Kubernetes Deployment with maxSurge 1 and maxUnavailable 0:
// - Same spec everywhere: start the missing ones all at once; when there are too many, drain
//   the surplus, replicas that are not ready first, then the youngest.
// - Spec changed (a rollout): at most desired + 1 replicas exist; a replica of the old spec is
//   drained only while the ready ones left still number at least `desired`, except that old
//   replicas that are not ready are drained at once (they serve nothing).
// Draining replicas are on their way out and count for nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace brix::controller {

struct PlanReplica {
  std::string name;
  std::string spec_hash;
  uint64_t sequence = 0;  // creation order: higher is younger
  bool ready = false;
  bool draining = false;
};

struct Plan {
  int64_t create = 0;
  std::vector<std::string> drain;
  friend bool operator==(const Plan&, const Plan&) = default;
};

Plan PlanDeployment(int64_t desired, std::string_view spec_hash,
                    std::span<const PlanReplica> replicas);

}  // namespace brix::controller
