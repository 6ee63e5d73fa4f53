#include "router/prefix_index.h"

#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

namespace brix::router {
namespace {

std::vector<uint32_t> Ids(size_t n, uint32_t first = 0) {
  std::vector<uint32_t> ids(n);
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

std::vector<uint64_t> Hashes(const std::vector<uint32_t>& ids, size_t block = 4) {
  std::vector<uint64_t> out;
  BlockHashes(ids, block, out);
  return out;
}

std::vector<size_t> Match(const PrefixIndex& index, const std::vector<uint64_t>& hashes,
                          const std::vector<std::string>& names, double now_s = 0) {
  std::vector<EndpointView> views;
  for (const std::string& n : names) views.push_back({.name = n});
  std::vector<size_t> matched(views.size());
  index.Match(hashes, views, now_s, matched);
  return matched;
}

TEST(BlockHashesTest, HashesFullBlocksInAChain) {
  EXPECT_EQ(Hashes(Ids(3)).size(), 0u);   // shorter than a block
  EXPECT_EQ(Hashes(Ids(11)).size(), 2u);  // the partial tail is ignored
  const std::vector<uint64_t> a = Hashes(Ids(12));
  ASSERT_EQ(a.size(), 3u);
  // A shared prefix gives shared leading hashes; a different block changes it and every hash
  // after it, even where the later blocks are equal (the chain commits to the whole prefix).
  std::vector<uint32_t> other = Ids(12);
  other[5] = 999;
  const std::vector<uint64_t> b = Hashes(other);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_NE(a[1], b[1]);
  EXPECT_NE(a[2], b[2]);
  // The same block at another position hashes differently.
  const std::vector<uint32_t> twice = {1, 2, 3, 4, 1, 2, 3, 4};
  const std::vector<uint64_t> t = Hashes(twice);
  EXPECT_NE(t[0], t[1]);
  // Deterministic across calls (the simulator and the gateway agree).
  EXPECT_EQ(Hashes(Ids(12)), a);
}

TEST(PrefixIndexTest, MatchesLeadingBlocksPerEndpoint) {
  PrefixIndex index;
  const std::vector<uint64_t> h = Hashes(Ids(40));  // 10 blocks
  index.Insert(std::span(h).first(6), "a", 0);
  index.Insert(std::span(h).first(2), "b", 0);
  EXPECT_EQ(Match(index, h, {"a", "b", "c"}), (std::vector<size_t>{6, 2, 0}));
  // A prompt that diverges after block 3 matches 3 on a.
  std::vector<uint32_t> ids = Ids(40);
  ids[13] = 7777;
  EXPECT_EQ(Match(index, Hashes(ids), {"a", "b"}), (std::vector<size_t>{3, 2}));
  EXPECT_EQ(index.size(), 8u);
  // Inserting again does not duplicate.
  index.Insert(std::span(h).first(6), "a", 1);
  EXPECT_EQ(index.size(), 8u);
}

TEST(PrefixIndexTest, ForgetsLeastRecentlyUsedAndStaysPrefixClosed) {
  PrefixIndex index({.capacity_blocks = 5, .ttl_s = 1e9});
  const std::vector<uint64_t> x = Hashes(Ids(16, 0));    // 4 blocks
  const std::vector<uint64_t> y = Hashes(Ids(16, 100));  // 4 other blocks
  index.Insert(x, "a", 0);
  index.Insert(y, "a", 1);  // 8 > 5: three of x go, its deepest first
  EXPECT_EQ(index.size(), 5u);
  EXPECT_EQ(Match(index, y, {"a"}), (std::vector<size_t>{4}));
  EXPECT_EQ(Match(index, x, {"a"}), (std::vector<size_t>{1}));
  // A chain longer than the capacity keeps its first blocks.
  const std::vector<uint64_t> z = Hashes(Ids(40, 1000));  // 10 blocks
  index.Insert(z, "a", 2);
  EXPECT_EQ(Match(index, z, {"a"}), (std::vector<size_t>{5}));
  EXPECT_EQ(Match(index, y, {"a"}), (std::vector<size_t>{0}));
}

TEST(PrefixIndexTest, ExpiresBlocksNotUsedWithinTheTtl) {
  PrefixIndex index({.capacity_blocks = 100, .ttl_s = 10});
  const std::vector<uint64_t> h = Hashes(Ids(16));
  index.Insert(h, "a", 0);
  index.Insert(std::span(h).first(2), "a", 8);  // the first two blocks used again
  EXPECT_EQ(Match(index, h, {"a"}, 10), (std::vector<size_t>{4}));
  EXPECT_EQ(Match(index, h, {"a"}, 15), (std::vector<size_t>{2}));
  EXPECT_EQ(Match(index, h, {"a"}, 19), (std::vector<size_t>{0}));
}

TEST(PrefixIndexTest, EmptyPromptAndNoEndpoints) {
  PrefixIndex index;
  EXPECT_EQ(Match(index, {}, {"a"}), (std::vector<size_t>{0}));
  index.Insert({}, "a", 0);
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(Match(index, Hashes(Ids(8)), {}), (std::vector<size_t>{}));
}

}  // namespace
}  // namespace brix::router
