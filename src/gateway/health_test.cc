#include "gateway/health.h"

#include <gtest/gtest.h>

namespace brix::gateway {
namespace {

using std::chrono::milliseconds;
using TimePoint = HealthTracker::TimePoint;

EjectionOptions Options() {
  EjectionOptions o;
  o.consecutive_failures = 3;
  o.base_ejection = milliseconds(1000);
  o.max_ejection = milliseconds(8000);
  return o;
}

TEST(HealthTrackerTest, EjectsAfterConsecutiveFailuresOnly) {
  HealthTracker h(Options());
  TimePoint t{};
  EXPECT_FALSE(h.RecordFailure(t));
  EXPECT_FALSE(h.RecordFailure(t));
  h.RecordSuccess(t);  // resets the run
  EXPECT_FALSE(h.RecordFailure(t));
  EXPECT_FALSE(h.RecordFailure(t));
  EXPECT_FALSE(h.ejected());
  EXPECT_TRUE(h.RecordFailure(t));
  EXPECT_TRUE(h.ejected());
  EXPECT_FALSE(h.RecordFailure(t)) << "an ejected endpoint is not ejected again";
}

TEST(HealthTrackerTest, RequestAndScrapeFailuresAreCountedSeparately) {
  HealthTracker h(Options());
  TimePoint t{};
  using Source = HealthTracker::Source;
  // An engine failing every request while its /metrics answers is still ejected...
  h.RecordFailure(t, Source::kRequest);
  h.RecordSuccess(t, Source::kScrape);
  h.RecordFailure(t, Source::kRequest);
  h.RecordSuccess(t, Source::kScrape);
  EXPECT_TRUE(h.RecordFailure(t, Source::kRequest));
  // ... and rare scrape failures spread between successful scrapes never add up.
  HealthTracker g(Options());
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(g.RecordFailure(t, Source::kScrape));
    g.RecordSuccess(t, Source::kScrape);
  }
  EXPECT_FALSE(g.ejected());
}

TEST(HealthTrackerTest, ProbeIsDueOnlyAfterTheEjectionTime) {
  HealthTracker h(Options());
  TimePoint t{};
  for (int i = 0; i < 3; ++i) h.RecordFailure(t);
  EXPECT_FALSE(h.ProbeDue(t + milliseconds(999)));
  EXPECT_TRUE(h.ProbeDue(t + milliseconds(1000)));
  h.RecordProbe(true, t + milliseconds(1000));
  EXPECT_FALSE(h.ejected());
  EXPECT_FALSE(h.ProbeDue(t + milliseconds(5000)));
}

TEST(HealthTrackerTest, FailedProbesDoubleTheEjectionUpToTheCap) {
  HealthTracker h(Options());
  TimePoint t{};
  for (int i = 0; i < 3; ++i) h.RecordFailure(t);
  EXPECT_EQ(h.ejected_until(), t + milliseconds(1000));
  h.RecordProbe(false, t);
  EXPECT_EQ(h.ejected_until(), t + milliseconds(2000));
  h.RecordProbe(false, t);
  EXPECT_EQ(h.ejected_until(), t + milliseconds(4000));
  h.RecordProbe(false, t);
  EXPECT_EQ(h.ejected_until(), t + milliseconds(8000));
  h.RecordProbe(false, t);
  EXPECT_EQ(h.ejected_until(), t + milliseconds(8000)) << "capped at max_ejection";
  EXPECT_EQ(h.ejections_in_a_row(), 5);
}

TEST(HealthTrackerTest, ReEjectionSoonAfterReturnBacksOffFurther) {
  HealthTracker h(Options());
  TimePoint t{};
  for (int i = 0; i < 3; ++i) h.RecordFailure(t);
  h.RecordProbe(true, t + milliseconds(1000));
  for (int i = 0; i < 3; ++i) h.RecordFailure(t + milliseconds(1100));
  EXPECT_EQ(h.ejected_until(), t + milliseconds(1100 + 2000));
}

TEST(HealthTrackerTest, ForgetsEjectionsAfterStayingHealthyForMaxEjection) {
  HealthTracker h(Options());
  TimePoint t{};
  for (int i = 0; i < 3; ++i) h.RecordFailure(t);
  h.RecordProbe(true, t + milliseconds(1000));
  h.RecordSuccess(t + milliseconds(1000 + 8000));
  EXPECT_EQ(h.ejections_in_a_row(), 0);
  for (int i = 0; i < 3; ++i) h.RecordFailure(t + milliseconds(10000));
  EXPECT_EQ(h.ejected_until(), t + milliseconds(11000));
}

}  // namespace
}  // namespace brix::gateway
