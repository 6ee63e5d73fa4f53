#include "tenant/fair_queue.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace brix::tenant {
namespace {

TEST(FairQueueTest, FirstComeFirstServedWithinATenant) {
  FairQueue q;
  const uint64_t a = q.Push("acme", 1);
  const uint64_t b = q.Push("acme", 1);
  const uint64_t c = q.Push("acme", 1);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.Pop()->ticket, a);
  EXPECT_EQ(q.Pop()->ticket, b);
  EXPECT_EQ(q.Pop()->ticket, c);
  EXPECT_FALSE(q.Pop().has_value());
}

TEST(FairQueueTest, TheTenantServedLeastGoesFirst) {
  FairQueue q;
  // The flooder queued 5 before the other arrived; its first one was served and charged.
  for (int i = 0; i < 5; ++i) q.Push("flood", 1);
  auto first = q.Pop();
  ASSERT_EQ(first->tenant, "flood");
  q.Charge("flood", 100, 50);  // 100 + 2 * 50
  EXPECT_DOUBLE_EQ(q.counter("flood"), 200);
  const uint64_t victim = q.Push("victim", 1);
  // The victim joins at the smallest waiting counter (flood's 200), ties go to the older
  // ticket (flood's), after which flood is charged again and the victim is ahead.
  EXPECT_DOUBLE_EQ(q.counter("victim"), 200);
  auto second = q.Pop();
  EXPECT_EQ(second->tenant, "flood");
  q.Charge("flood", 100, 50);
  auto third = q.Pop();
  EXPECT_EQ(third->ticket, victim);
}

TEST(FairQueueTest, ServiceIsSharedEquallyWhateverEachTenantSends) {
  // Tenant "flood" keeps 10 times more waiting than "calm"; both always have some waiting.
  // Over a busy period each gets about half the service, counted in tokens.
  FairQueue q;
  std::map<std::string, double> served;
  for (int i = 0; i < 100; ++i) q.Push("flood", 1);
  for (int i = 0; i < 10; ++i) q.Push("calm", 1);
  for (int step = 0; step < 400; ++step) {
    auto next = q.Pop();
    ASSERT_TRUE(next.has_value());
    // Flood's requests are twice as big.
    const double output = next->tenant == "flood" ? 200 : 100;
    q.Charge(next->tenant, 0, output);
    served[next->tenant] += output;
    q.Push(next->tenant, 1);  // keeps its backlog
  }
  EXPECT_NEAR(served["flood"] / served["calm"], 1.0, 0.02);
  // Counters of backlogged tenants stay within one request's cost.
  EXPECT_LE(std::abs(q.counter("flood") - q.counter("calm")), 2 * 200.0);
}

TEST(FairQueueTest, WeightsDivideTheCharge) {
  FairQueue q;
  std::map<std::string, int> served;
  for (int i = 0; i < 10; ++i) {
    q.Push("gold", 3);
    q.Push("bronze", 1);
  }
  for (int step = 0; step < 400; ++step) {
    auto next = q.Pop();
    q.Charge(next->tenant, 10, 0);
    ++served[next->tenant];
    q.Push(next->tenant, next->tenant == "gold" ? 3 : 1);
  }
  EXPECT_NEAR(static_cast<double>(served["gold"]) / served["bronze"], 3.0, 0.1);
}

TEST(FairQueueTest, IdleTenantsBankNoCredit) {
  FairQueue q;
  // "busy" is served alone for a long time.
  for (int i = 0; i < 50; ++i) {
    q.Push("busy", 1);
    auto next = q.Pop();
    q.Charge(next->tenant, 100, 0);
  }
  // Now "busy" has a backlog and "late" arrives: late starts at busy's counter, not at 0, so it
  // alternates with busy instead of taking the next 50 turns.
  for (int i = 0; i < 10; ++i) q.Push("busy", 1);
  for (int i = 0; i < 10; ++i) q.Push("late", 1);
  EXPECT_DOUBLE_EQ(q.counter("late"), q.counter("busy"));
  int late_in_first_ten = 0;
  for (int i = 0; i < 10; ++i) {
    auto next = q.Pop();
    q.Charge(next->tenant, 100, 0);
    late_in_first_ten += next->tenant == "late";
  }
  EXPECT_EQ(late_in_first_ten, 5);

  // With nobody waiting, a newcomer starts at the counter of the tenant served last.
  FairQueue empty;
  empty.Push("a", 1);
  empty.Pop();
  empty.Charge("a", 500, 0);
  empty.Push("a", 1);
  empty.Pop();
  empty.Push("b", 1);
  EXPECT_DOUBLE_EQ(empty.counter("b"), 500);
}

TEST(FairQueueTest, IneligibleTenantsAreSkippedNotDropped) {
  FairQueue q;
  const uint64_t a = q.Push("big", 1);
  const uint64_t b = q.Push("small", 1);
  q.Charge("small", 100, 0);  // big is first by counter
  auto next = q.Pop([](std::string_view t) { return t != "big"; });
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->ticket, b);
  EXPECT_FALSE(q.Pop([](std::string_view t) { return t != "big"; }).has_value());
  EXPECT_EQ(q.Pop()->ticket, a);
}

TEST(FairQueueTest, RemovedTicketsAreNeverServedAndCorrectionsNeverGoNegative) {
  FairQueue q;
  const uint64_t a = q.Push("acme", 1);
  const uint64_t b = q.Push("acme", 1);
  EXPECT_TRUE(q.Remove(a));
  EXPECT_FALSE(q.Remove(a));
  EXPECT_EQ(q.waiting("acme"), 1u);
  EXPECT_EQ(q.Pop()->ticket, b);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.Remove(12345));

  q.Charge("acme", 10, 100);  // estimate: max_tokens 100
  q.Charge("acme", 0, -500);  // an over-correction
  EXPECT_DOUBLE_EQ(q.counter("acme"), 0);
  // A non-positive weight is taken as 1 rather than dividing by it.
  q.Push("zero", 0);
  q.Charge("zero", 7, 0);
  EXPECT_DOUBLE_EQ(q.counter("zero"), 7);
}

TEST(ShareTrackerTest, SharesAreSplitAmongActiveTenantsByWeight) {
  ShareTracker shares(/*active_window_s=*/60);
  shares.Arrived("flood", 1, 0);
  for (int i = 0; i < 9; ++i) shares.Started("flood");
  // Alone, flood may hold every slot.
  EXPECT_FALSE(shares.AtOrOverShare("flood", 10, 1));
  shares.Started("flood");
  EXPECT_TRUE(shares.AtOrOverShare("flood", 10, 1));
  // Calm arrives: flood's share is 5 of 10, calm's too.
  shares.Arrived("calm", 1, 2);
  shares.Started("calm");
  EXPECT_TRUE(shares.AtOrOverShare("flood", 10, 3));
  EXPECT_FALSE(shares.AtOrOverShare("calm", 10, 3));
  shares.Finished("calm");
  // Calm is still active for a minute after its last arrival, then flood has it all again.
  EXPECT_TRUE(shares.AtOrOverShare("flood", 10, 61));
  for (int i = 0; i < 2; ++i) shares.Finished("flood");
  EXPECT_EQ(shares.in_flight("flood"), 8);
  EXPECT_FALSE(shares.AtOrOverShare("flood", 10, 63));
  // Weights: gold (3) gets 3/4 of 8 slots = 6.
  ShareTracker weighted;
  weighted.Arrived("gold", 3, 0);
  weighted.Arrived("bronze", 1, 0);
  for (int i = 0; i < 5; ++i) weighted.Started("gold");
  EXPECT_FALSE(weighted.AtOrOverShare("gold", 8, 1));
  weighted.Started("gold");
  EXPECT_TRUE(weighted.AtOrOverShare("gold", 8, 1));
  weighted.Started("bronze");
  weighted.Started("bronze");
  EXPECT_TRUE(weighted.AtOrOverShare("bronze", 8, 1));
  // Unknown tenants hold nothing; finishing more than started never goes negative.
  EXPECT_FALSE(weighted.AtOrOverShare("nobody", 8, 1));
  weighted.Finished("nobody");
  EXPECT_EQ(weighted.in_flight("nobody"), 0);
}

TEST(FairShareGateTest, SlotsCapStartsAndReleasesLetTheNextIn) {
  FairShareGate gate({.slots = 2, .reserve = 0});
  const uint64_t a = gate.Arrive({"acme", 1, 10, 10}, 0);
  const uint64_t b = gate.Arrive({"acme", 1, 10, 10}, 0);
  const uint64_t c = gate.Arrive({"acme", 1, 10, 10}, 0);
  EXPECT_EQ(gate.Admit(0), (std::vector<uint64_t>{a, b}));
  EXPECT_EQ(gate.started(), 2);
  EXPECT_EQ(gate.waiting(), 1u);
  EXPECT_TRUE(gate.Admit(0).empty());
  gate.Release(a, 10, 3);
  // The estimate (10 + 2 * 10 each) was corrected for a: 7 output tokens fewer.
  EXPECT_DOUBLE_EQ(gate.counter("acme"), 2 * 30 - 14);
  EXPECT_EQ(gate.Admit(0), (std::vector<uint64_t>{c}));
  // Cancelling a started request is refused (release it); a waiting one leaves quietly.
  EXPECT_FALSE(gate.Cancel(b));
  const uint64_t d = gate.Arrive({"acme", 1, 1, 1}, 0);
  EXPECT_TRUE(gate.Cancel(d));
  gate.Release(b, 10, 10);
  EXPECT_TRUE(gate.Admit(0).empty());
  EXPECT_EQ(gate.started(), 1);
}

TEST(FairShareGateTest, TheReserveIsLeftForTenantsUnderTheirShare) {
  // 8 slots, 2 reserved. The flood fills 6 and then waits, although slots are free; calm's
  // request then starts at once.
  FairShareGate gate({.slots = 8, .reserve = 2});
  gate.Arrive({"calm", 1, 1, 1}, 0);  // calm is active (it sent a request recently)
  ASSERT_EQ(gate.Admit(0).size(), 1u);
  for (int i = 0; i < 20; ++i) gate.Arrive({"flood", 1, 1, 1}, 1);
  EXPECT_EQ(gate.Admit(1).size(), 5u);  // flood's share is 4; beyond it, only up to 8 - 2
  EXPECT_EQ(gate.started(), 6);
  const uint64_t calm = gate.Arrive({"calm", 1, 1, 1}, 2);
  EXPECT_EQ(gate.Admit(2), (std::vector<uint64_t>{calm}));
  // Alone (calm quiet for longer than the window), the flood may use every slot.
  FairShareGate alone({.slots = 8, .reserve = 2});
  for (int i = 0; i < 20; ++i) alone.Arrive({"flood", 1, 1, 1}, 0);
  EXPECT_EQ(alone.Admit(0).size(), 8u);
}

}  // namespace
}  // namespace brix::tenant
