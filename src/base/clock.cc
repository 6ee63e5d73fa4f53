#include "base/clock.h"

#include "base/check.h"

namespace brix::base {
namespace {

class RealClockImpl final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
  WallTime WallNow() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

}  // namespace

Clock& RealClock() {
  static auto* clock = new RealClockImpl();  // never destroyed: usable during static teardown
  return *clock;
}

ManualClock::ManualClock(TimePoint start, WallTime wall_start)
    : now_ns_(start.time_since_epoch().count()),
      wall_offset_ns_(wall_start.time_since_epoch().count() - start.time_since_epoch().count()) {}

TimePoint ManualClock::Now() const { return TimePoint(Duration(now_ns_.load())); }

WallTime ManualClock::WallNow() const {
  return WallTime(Duration(now_ns_.load() + wall_offset_ns_));
}

void ManualClock::Advance(Duration d) {
  BRIX_CHECK(d.count() >= 0) << "a clock cannot go back";
  now_ns_.fetch_add(d.count());
}

void ManualClock::Set(TimePoint t) {
  auto target = t.time_since_epoch().count();
  auto current = now_ns_.load();
  BRIX_CHECK(target >= current) << "a clock cannot go back";
  while (!now_ns_.compare_exchange_weak(current, target)) {
    BRIX_CHECK(target >= current) << "a clock cannot go back";
  }
}

}  // namespace brix::base
