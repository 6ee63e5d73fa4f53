#include "controller/plan.h"

#include <gtest/gtest.h>

namespace brix::controller {
namespace {

PlanReplica R(std::string name, std::string hash, uint64_t seq, bool ready, bool draining = false) {
  return {std::move(name), std::move(hash), seq, ready, draining};
}

TEST(PlanTest, StartsAllMissingReplicasAtOnce) {
  EXPECT_EQ(PlanDeployment(4, "h", {}), (Plan{4, {}}));
  std::vector<PlanReplica> one = {R("a", "h", 1, true)};
  EXPECT_EQ(PlanDeployment(3, "h", one), (Plan{2, {}}));
}

TEST(PlanTest, NothingToDoWhenCountAndSpecMatch) {
  std::vector<PlanReplica> r = {R("a", "h", 1, true), R("b", "h", 2, false)};
  EXPECT_EQ(PlanDeployment(2, "h", r), (Plan{0, {}}));
}

TEST(PlanTest, ScaleDownDrainsNotReadyFirstThenYoungest) {
  std::vector<PlanReplica> r = {R("old", "h", 1, true), R("young", "h", 3, true),
                                R("mid", "h", 2, true), R("sick", "h", 0, false)};
  EXPECT_EQ(PlanDeployment(2, "h", r), (Plan{0, {"sick", "young"}}));
  EXPECT_EQ(PlanDeployment(0, "h", r).drain.size(), 4u);
}

TEST(PlanTest, DrainingReplicasCountForNothing) {
  std::vector<PlanReplica> r = {R("a", "h", 1, true), R("b", "h", 2, true, /*draining=*/true)};
  EXPECT_EQ(PlanDeployment(2, "h", r), (Plan{1, {}}));
}

TEST(PlanTest, RolloutSurgesOneAndKeepsDesiredReady) {
  // Two ready replicas of the old spec: one new one first, nothing drained yet.
  std::vector<PlanReplica> r = {R("o1", "old", 1, true), R("o2", "old", 2, true)};
  EXPECT_EQ(PlanDeployment(2, "new", r), (Plan{1, {}}));
  // The new one is starting: wait.
  r.push_back(R("n1", "new", 3, false));
  EXPECT_EQ(PlanDeployment(2, "new", r), (Plan{0, {}}));
  // It is ready: one old one goes (the youngest), the next new one starts.
  r.back().ready = true;
  EXPECT_EQ(PlanDeployment(2, "new", r), (Plan{1, {"o2"}}));
  // Second new one ready, o2 draining: o1 goes.
  r[1].draining = true;
  r.push_back(R("n2", "new", 4, true));
  EXPECT_EQ(PlanDeployment(2, "new", r), (Plan{0, {"o1"}}));
}

TEST(PlanTest, RolloutDrainsOldReplicasThatServeNothingAtOnce) {
  std::vector<PlanReplica> r = {R("o1", "old", 1, false), R("o2", "old", 2, true)};
  const Plan p = PlanDeployment(2, "new", r);
  EXPECT_EQ(p.drain, std::vector<std::string>{"o1"});
  EXPECT_EQ(p.create, 2);  // o2 and two new ones: desired + 1
}

TEST(PlanTest, RolloutToZeroDrainsEverything) {
  std::vector<PlanReplica> r = {R("o1", "old", 1, true), R("o2", "old", 2, true)};
  EXPECT_EQ(PlanDeployment(0, "new", r), (Plan{0, {"o2", "o1"}}));
}

}  // namespace
}  // namespace brix::controller
