// Clock: the only way Brix code reads the time, so that pure components and tests can run on
// virtual time.
//
// Two implementations: RealClock (std::chrono::steady_clock and system_clock) and ManualClock,
// which moves only when told. Both are safe to call from any thread.
#pragma once

#include <atomic>
#include <chrono>

namespace brix::base {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;
using WallTime = std::chrono::time_point<std::chrono::system_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for durations and deadlines.
  virtual TimePoint Now() const = 0;
  // Wall-clock time, for timestamps shown to people and in APIs (e.g. OpenAI's `created`).
  virtual WallTime WallNow() const = 0;
};

// The process-wide real clock. Never destroyed.
Clock& RealClock();

// A clock that starts at a fixed point and advances only through Advance()/Set().
class ManualClock final : public Clock {
 public:
  // Starts at steady time `start` and wall time `wall_start` (defaults: the epoch of each, plus
  // one hour, so that "an hour ago" never underflows in tests).
  explicit ManualClock(TimePoint start = TimePoint(std::chrono::hours(1)),
                       WallTime wall_start = WallTime(std::chrono::hours(1)));

  TimePoint Now() const override;
  WallTime WallNow() const override;

  // Moves both clocks forward by `d` (d >= 0).
  void Advance(Duration d);
  // Moves the steady clock to `t` (t >= Now()); the wall clock moves by the same amount.
  void Set(TimePoint t);

 private:
  std::atomic<Duration::rep> now_ns_;
  const Duration::rep wall_offset_ns_;  // wall - steady, fixed at construction
};

}  // namespace brix::base
