#include "controller/plan.h"

#include <algorithm>

namespace brix::controller {
namespace {

// Not-ready ones first, then the youngest: the order in which surplus replicas go.
bool GoesFirst(const PlanReplica* a, const PlanReplica* b) {
  if (a->ready != b->ready) return !a->ready;
  return a->sequence > b->sequence;
}

}  // namespace

Plan PlanDeployment(int64_t desired, std::string_view spec_hash,
                    std::span<const PlanReplica> replicas) {
  Plan plan;
  std::vector<const PlanReplica*> current;
  std::vector<const PlanReplica*> old;
  for (const PlanReplica& r : replicas) {
    if (r.draining) continue;
    (r.spec_hash == spec_hash ? current : old).push_back(&r);
  }
  const auto count = [](const std::vector<const PlanReplica*>& v) {
    return static_cast<int64_t>(v.size());
  };
  const auto ready = [](const std::vector<const PlanReplica*>& v) {
    return static_cast<int64_t>(
        std::count_if(v.begin(), v.end(), [](auto* r) { return r->ready; }));
  };
  std::sort(current.begin(), current.end(), GoesFirst);
  std::sort(old.begin(), old.end(), GoesFirst);

  // Surplus of the current spec (a scale-down, possibly during a rollout).
  int64_t surplus = count(current) - desired;
  for (int64_t i = 0; i < surplus; ++i) plan.drain.push_back(current[i]->name);
  if (surplus > 0) current.erase(current.begin(), current.begin() + surplus);

  if (old.empty()) {
    plan.create = std::max<int64_t>(0, desired - count(current));
    return plan;
  }

  // A rollout. Old replicas that are not ready go at once.
  std::vector<const PlanReplica*> old_ready;
  for (const PlanReplica* r : old) {
    if (r->ready) {
      old_ready.push_back(r);
    } else {
      plan.drain.push_back(r->name);
    }
  }
  // Old ready ones go while the rest still cover `desired`; the youngest first.
  const int64_t removable =
      std::max<int64_t>(0, std::min(count(old_ready), ready(current) + count(old_ready) - desired));
  for (int64_t i = 0; i < removable; ++i) plan.drain.push_back(old_ready[i]->name);
  const int64_t old_left = count(old_ready) - removable;
  // New ones, within desired + 1 replicas in all.
  const int64_t room = desired + 1 - (count(current) + old_left);
  plan.create = std::max<int64_t>(0, std::min(desired - count(current), room));
  return plan;
}

}  // namespace brix::controller
