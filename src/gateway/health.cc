#include "gateway/health.h"

#include <algorithm>

namespace brix::gateway {

bool HealthTracker::RecordFailure(TimePoint now, Source source) {
  std::lock_guard lock(mu_);
  if (ejected_.load(std::memory_order_relaxed)) return false;
  int& failures = failures_in_a_row_[static_cast<int>(source)];
  ++failures;
  if (failures < options_.consecutive_failures) return false;
  EjectLocked(now);
  return true;
}

void HealthTracker::RecordSuccess(TimePoint now, Source source) {
  std::lock_guard lock(mu_);
  failures_in_a_row_[static_cast<int>(source)] = 0;
  if (!ejected_.load(std::memory_order_relaxed) && ejections_in_a_row_ > 0 &&
      now - returned_at_ >= options_.max_ejection) {
    ejections_in_a_row_ = 0;
  }
}

bool HealthTracker::ProbeDue(TimePoint now) const {
  if (!ejected()) return false;
  std::lock_guard lock(mu_);
  return now >= ejected_until_;
}

void HealthTracker::RecordProbe(bool ok, TimePoint now) {
  std::lock_guard lock(mu_);
  if (!ejected_.load(std::memory_order_relaxed)) return;
  if (ok) {
    failures_in_a_row_[0] = failures_in_a_row_[1] = 0;
    returned_at_ = now;
    ejected_.store(false, std::memory_order_relaxed);
    return;
  }
  EjectLocked(now);
}

int HealthTracker::ejections_in_a_row() const {
  std::lock_guard lock(mu_);
  return ejections_in_a_row_;
}

HealthTracker::TimePoint HealthTracker::ejected_until() const {
  std::lock_guard lock(mu_);
  return ejected_until_;
}

std::chrono::milliseconds HealthTracker::EjectionTime() const {
  std::chrono::milliseconds t = options_.base_ejection;
  for (int i = 1; i < ejections_in_a_row_ && t < options_.max_ejection; ++i) t *= 2;
  return std::min(t, options_.max_ejection);
}

void HealthTracker::EjectLocked(TimePoint now) {
  ++ejections_in_a_row_;
  failures_in_a_row_[0] = failures_in_a_row_[1] = 0;
  ejected_until_ = now + EjectionTime();
  ejected_.store(true, std::memory_order_relaxed);
}

}  // namespace brix::gateway
