#include "engine/internal/block_pool.h"

#include <gtest/gtest.h>

#include <vector>

namespace brix::engine::internal {
namespace {

using Ids = std::vector<BlockId>;

TEST(BlockPoolTest, ReservesTheNullBlockAndCountsUsageOverTheRest) {
  BlockPool pool(5);
  EXPECT_EQ(pool.capacity(), 5);
  EXPECT_EQ(pool.num_free(), 4);
  EXPECT_EQ(pool.FreeQueue(), (Ids{1, 2, 3, 4}));
  EXPECT_EQ(pool.Usage(), 0.0);
  Ids got;
  pool.Allocate(1, got);
  EXPECT_DOUBLE_EQ(pool.Usage(), 0.25);
  pool.CheckInvariants();
}

TEST(BlockPoolTest, AllocatesFromTheHeadAndFreesToTheTailInTheGivenOrder) {
  BlockPool pool(7);
  Ids a;
  pool.Allocate(3, a);
  EXPECT_EQ(a, (Ids{1, 2, 3}));
  EXPECT_EQ(pool.FreeQueue(), (Ids{4, 5, 6}));
  Ids reversed(a.rbegin(), a.rend());
  pool.Free(reversed);
  EXPECT_EQ(pool.FreeQueue(), (Ids{4, 5, 6, 3, 2, 1}));
  Ids b;
  pool.Allocate(4, b);
  EXPECT_EQ(b, (Ids{4, 5, 6, 3}));
  pool.CheckInvariants();
}

TEST(BlockPoolTest, FreedBlocksStayFindableUntilReusedThenTheirHashIsDropped) {
  BlockPool pool(4);
  Ids a;
  pool.Allocate(2, a);
  pool.Cache(a[0], 100);
  pool.Cache(a[1], 200);
  pool.Free(Ids{a[1], a[0]});
  EXPECT_EQ(pool.Lookup(100), a[0]);
  EXPECT_EQ(pool.Lookup(200), a[1]);
  EXPECT_EQ(pool.num_cached(), 2u);
  Ids b;
  pool.Allocate(2, b);  // block 3, then block 2 (freed first: the tail of `a`)
  EXPECT_EQ(b, (Ids{3, 2}));
  EXPECT_EQ(pool.Lookup(200), kNoBlock);
  EXPECT_EQ(pool.Lookup(100), a[0]);
  pool.CheckInvariants();
}

TEST(BlockPoolTest, TouchTakesAFreeCachedBlockOutOfTheQueue) {
  BlockPool pool(4);
  Ids a;
  pool.Allocate(1, a);
  pool.Cache(a[0], 7);
  pool.Free(a);
  EXPECT_EQ(pool.num_free(), 3);
  pool.Touch(pool.Lookup(7));
  EXPECT_EQ(pool.num_free(), 2);
  EXPECT_EQ(pool.RefCount(a[0]), 1);
  pool.Touch(a[0]);  // a second holder: no queue change
  EXPECT_EQ(pool.RefCount(a[0]), 2);
  pool.Free(a);
  EXPECT_EQ(pool.num_free(), 2);
  pool.Free(a);
  EXPECT_EQ(pool.FreeQueue().back(), a[0]);
  pool.CheckInvariants();
}

TEST(BlockPoolTest, DuplicateHashesResolveToTheEarliestCachedBlock) {
  BlockPool pool(5);
  Ids a;
  pool.Allocate(2, a);
  pool.Cache(a[0], 42);
  pool.Cache(a[1], 42);
  EXPECT_EQ(pool.Lookup(42), a[0]);
  pool.Free(Ids{a[0]});
  Ids b;
  pool.Allocate(3, b);  // 3, 4, then a[0]: evicts the first copy
  EXPECT_EQ(b.back(), a[0]);
  EXPECT_EQ(pool.Lookup(42), a[1]);
  pool.CheckInvariants();
}

TEST(BlockPoolTest, ResizeGrowsAtTheTailAndShrinksFromTheHead) {
  BlockPool pool(4);
  pool.Resize(6);
  EXPECT_EQ(pool.FreeQueue(), (Ids{1, 2, 3, 4, 5}));
  Ids a;
  pool.Allocate(1, a);
  pool.Cache(a[0], 9);
  pool.Free(a);  // queue 2 3 4 5 1
  pool.Resize(3);
  EXPECT_EQ(pool.capacity(), 3);
  EXPECT_EQ(pool.FreeQueue(), (Ids{5, 1}));
  pool.Resize(5);  // retired blocks come back
  EXPECT_EQ(pool.num_free(), 4);
  EXPECT_EQ(pool.Lookup(9), 1);
  pool.CheckInvariants();
}

}  // namespace
}  // namespace brix::engine::internal
