// The virtual-time cluster simulator behind `brix bench sim`: a workload's arrivals go through
// the gateway's real routing code (src/router) to N engine models (src/engine) and come back as
// the same RequestRecords `brix bench` produces, so an hour of trace takes seconds and the
// report is the same.
//
//   ClusterConfig config;
//   config.replicas.assign(8, {profile, engine::EngineConfig{}});
//   config.policy = "least-request";
//   Result<ClusterResult> r = Simulate(workload, prompt_text, config);
//   report::Summary s = report::Summarize(r->records, r->itl, slo);
//
// What the router sees is what `brix gateway` would see: exact in-flight counts (requests routed
// to a replica and not yet finished) and engine metrics only as fresh as the last scrape, taken
// every scrape_interval from the engine's own counters (the numbers its /metrics would show).
// Network and gateway time are zero. With max_in_flight_per_replica the gateway's admission
// queue is modelled too: a request's TTFT then includes its wait there.
//
// Prompts: a turn's tokens are the PromptText ids of its segments (no chat template), after the
// conversation so far (earlier prompts and answers) for later turns. Answers are deterministic
// ids per (session, turn), so a follow-up turn hits the prefix cache where its history is cached.
//
// Time advances in lockstep: every engine runs its steps (engine::Engine::RunUntil, which also
// takes whole decode windows at once) up to the next event (an arrival, a completion, a scrape).
// A completion can create an event (the session's next turn, think_s later); so that no engine
// has run past it, engines advance at most the shortest think time at a time (1 ms when it is
// 0, the only case where timing may be off, by up to that). Trace replays are exact.
//
// Deterministic: the same workload, config and seed give the same result. Pure: no clock, no
// I/O, no threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/error.h"
#include "engine/engine.h"
#include "engine/profile.h"
#include "report/histogram.h"
#include "report/report.h"
#include "workload/prompt_text.h"
#include "workload/workload.h"

namespace brix::cluster {

struct ReplicaSpec {
  std::string name;  // what target-pod would say; default "replica-<i>"
  engine::Profile profile;
  engine::EngineConfig config;
};

struct ClusterConfig {
  std::vector<ReplicaSpec> replicas;
  std::string policy = "least-request";  // a router::MakePolicy name
  std::string model = "model";           // the model name routed on
  base::Duration scrape_interval = std::chrono::milliseconds(100);
  uint64_t seed = 1;
  // The gateway's fair-share admission (tenant::FairShareGate, as the gateway runs it per
  // model): at most max_in_flight_per_replica x replicas requests in flight; the rest wait at the
  // gateway and start as requests finish, in the order of `queueing`. A tenant holding its share
  // of the slots or more may not take the last reserve_per_replica x replicas of them. 0: no
  // admission, every request is routed on arrival and waits in an engine.
  int64_t max_in_flight_per_replica = 0;
  int64_t reserve_per_replica = -1;  // -1: max_in_flight_per_replica / 8, at least 1
  std::string queueing = "fair";
};

struct ReplicaReport {
  std::string name;
  size_t requests = 0;               // routed to it
  int64_t prefix_cache_queries = 0;  // tokens looked up in its prefix cache
  int64_t prefix_cache_hits = 0;
  int64_t preemptions = 0;
  int64_t steps = 0;
};

struct ClusterResult {
  std::vector<report::RequestRecord> records;  // one per turn, by session then turn
  // Inter-token latency: each request contributes its mean gap (TPOT) once per gap, because the
  // simulator runs decode windows without per-token events (engine::Engine::RunUntil).
  report::LatencyHistogram itl;
  std::vector<ReplicaReport> replicas;
  double simulated_s = 0;  // virtual time from the first arrival to the last completion
};

// InvalidArgument for no replicas, an unknown policy or a turn that cannot be added to an engine
// (longer than its max_model_len is recorded as a failed request instead).
Result<ClusterResult> Simulate(const workload::Workload& workload, const workload::PromptText& text,
                               const ClusterConfig& config);

}  // namespace brix::cluster
