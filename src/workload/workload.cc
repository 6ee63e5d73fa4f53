#include "workload/workload.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace brix::workload {

Workload Window(Workload workload, double from_s, double duration_s) {
  std::vector<Session> kept;
  for (Session& s : workload.sessions) {
    if (s.start_s < from_s) continue;
    if (duration_s > 0 && s.start_s >= from_s + duration_s) continue;
    s.start_s -= from_s;
    kept.push_back(std::move(s));
  }
  workload.sessions = std::move(kept);
  return workload;
}

Workload Speed(Workload workload, double factor) {
  BRIX_CHECK(factor > 0);
  for (Session& s : workload.sessions) {
    s.start_s /= factor;
    s.think_s /= factor;
  }
  return workload;
}

Workload Limit(Workload workload, size_t count) {
  if (workload.sessions.size() > count) workload.sessions.resize(count);
  return workload;
}

}  // namespace brix::workload
