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

Workload SpreadTies(Workload workload) {
  std::vector<Session>& sessions = workload.sessions;
  // Sessions are by start_s (Workload's contract); the tick is the smallest positive gap.
  double tick = 0;
  for (size_t i = 1; i < sessions.size(); ++i) {
    const double gap = sessions[i].start_s - sessions[i - 1].start_s;
    if (gap > 0 && (tick == 0 || gap < tick)) tick = gap;
  }
  if (tick == 0) return workload;
  for (size_t first = 0; first < sessions.size();) {
    size_t end = first + 1;
    while (end < sessions.size() && sessions[end].start_s == sessions[first].start_s) ++end;
    const double t = sessions[first].start_s;
    const double k = static_cast<double>(end - first);
    for (size_t i = first; i < end; ++i) {
      sessions[i].start_s = t + static_cast<double>(i - first) * tick / k;
    }
    first = end;
  }
  return workload;
}

}  // namespace brix::workload
