// HealthTracker: outlier ejection for one endpoint, in the manner of Envoy's consecutive-failure
// outlier detection (source/extensions/outlier_detection/... in envoyproxy/envoy: eject after N
// consecutive errors, for a base time multiplied by the number of ejections in a row).
//
// Failures are counted in a row per source: requests (a connect error or timeout, a reset, a 5xx
// answer) and scrapes (a /metrics call that could not connect or timed out). A success of the
// same source resets its count, so an engine that fails every request while its /metrics still
// answers is ejected, and a dead engine without traffic is ejected by its scrapes. At
// `consecutive_failures` the endpoint is ejected for base_ejection x 2^(ejections in a row - 1),
// capped at max_ejection. When that time has passed the scraper probes GET /health: success returns
// the endpoint to rotation, failure ejects it again for the next, longer time. An endpoint that
// stays in rotation for max_ejection forgets its ejection history.
//
// Time is passed in, so the tracker is testable without clocks. Thread-safe: ejected() is one
// atomic load (the request path reads it per candidate); the rest takes a short mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>

#include "gateway/gateway.h"

namespace brix::gateway {

class HealthTracker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  enum class Source { kRequest, kScrape };

  explicit HealthTracker(EjectionOptions options) : options_(options) {}

  // A request or scrape to the endpoint failed. Returns true when this failure ejected it.
  bool RecordFailure(TimePoint now, Source source = Source::kRequest);
  // A request got an answer (any status below 500), or a scrape succeeded.
  void RecordSuccess(TimePoint now, Source source = Source::kRequest);

  // Out of rotation: the router does not see it as healthy.
  bool ejected() const { return ejected_.load(std::memory_order_relaxed); }
  // Ejected, and the ejection time has passed: a /health probe should decide.
  bool ProbeDue(TimePoint now) const;
  // The probe's outcome: ok -> back in rotation; failed -> ejected for the next, longer time.
  void RecordProbe(bool ok, TimePoint now);

  // Ejections in a row (the backoff exponent).
  int ejections_in_a_row() const;
  // When the current ejection ends (meaningful while ejected()).
  TimePoint ejected_until() const;

 private:
  std::chrono::milliseconds EjectionTime() const;  // for ejections_in_a_row_ (>= 1)
  void EjectLocked(TimePoint now);

  const EjectionOptions options_;
  std::atomic<bool> ejected_{false};
  mutable std::mutex mu_;
  int failures_in_a_row_[2] = {0, 0};  // guarded by mu_; by Source
  int ejections_in_a_row_ = 0;         // guarded by mu_
  TimePoint ejected_until_{};          // guarded by mu_
  TimePoint returned_at_{};            // guarded by mu_: when the last ejection ended
};

}  // namespace brix::gateway
