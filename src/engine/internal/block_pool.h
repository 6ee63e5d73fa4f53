// BlockPool: the KV cache's physical blocks, their reference counts, the LRU free queue and the
// prefix-cache index from block hash to block. Our own implementation of the semantics of vLLM's
// vllm/v1/core/block_pool.py (BlockPool, BlockHashToBlockMap) and
// vllm/v1/core/kv_cache_utils.py (FreeKVCacheBlockQueue):
//
// - block 0 is the null block, taken at construction and never handed out, so `capacity - 1`
//   blocks are usable and usage = 1 - free / (capacity - 1);
// - free blocks sit in a doubly linked queue; allocation pops from the head (least recently
//   freed first); freeing appends to the tail in the order given (callers pass a request's
//   blocks in reverse, so its tail blocks are evicted first);
// - a freed block keeps its hash and stays findable until it is popped for reuse (lazy
//   eviction); a lookup hit on a free block removes it from the queue (`Touch`);
// - several blocks may hold the same hash (a prefix recomputed while its first copy is in use);
//   the index returns the earliest cached one still present.
//
// Owned by one Engine; not thread-safe.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <span>
#include <vector>

namespace brix::engine::internal {

using BlockId = int32_t;
inline constexpr BlockId kNoBlock = -1;

class BlockPool {
 public:
  // `capacity` >= 1 blocks, including the null block.
  explicit BlockPool(int32_t capacity);

  // Blocks in the pool, including the null block.
  int32_t capacity() const { return capacity_; }
  // Blocks in the free queue (cached-but-unreferenced ones included).
  int32_t num_free() const { return num_free_; }
  // Fraction of usable blocks referenced by some request, 0..1.
  double Usage() const;
  // Hashes currently findable.
  size_t num_cached() const { return num_cached_; }

  // Pops `n` <= num_free() blocks from the head of the free queue, drops their hashes, sets
  // their reference count to 1 and appends them to `out`.
  void Allocate(int32_t n, std::vector<BlockId>& out);
  // The block caching `hash`, or kNoBlock.
  BlockId Lookup(uint64_t hash) const;
  // Takes one more reference on a block found by Lookup (removing it from the free queue if it
  // was free).
  void Touch(BlockId block);
  // Records that `block` (referenced, not yet hashed) now holds the full block `hash`.
  void Cache(BlockId block, uint64_t hash);
  // Drops one reference from each block, in order; blocks that reach zero go to the queue's tail.
  void Free(std::span<const BlockId> blocks);
  // Grows or shrinks the pool to `capacity` >= 1 blocks. Shrinking takes blocks from the head of
  // the free queue (evicting their hashes) and needs `capacity() - capacity` <= num_free().
  void Resize(int32_t capacity);

  // Free queue from head to tail (tests, invariant checks).
  std::vector<BlockId> FreeQueue() const;
  int32_t RefCount(BlockId block) const { return blocks_[block].ref; }
  bool IsCached(BlockId block) const { return blocks_[block].hashed; }
  // Checks every internal invariant (BRIX_CHECK); O(capacity). For tests and the fuzzer.
  void CheckInvariants() const;

 private:
  struct Block {
    uint64_t hash = 0;
    int32_t ref = 0;
    BlockId prev = kNoBlock;  // free queue links
    BlockId next = kNoBlock;
    BlockId same_hash_next = kNoBlock;  // next block with the same hash, in caching order
    bool hashed = false;
    bool in_queue = false;
    bool retired = false;  // removed by Resize; kept so block ids stay stable
  };

  BlockId PopHead();
  void PushTail(BlockId b);
  void Unlink(BlockId b);
  void Evict(BlockId b);  // drops b's hash from the index

  std::vector<Block> blocks_;
  std::vector<BlockId> retired_;                        // retired blocks, reused first when growing
  boost::unordered_flat_map<uint64_t, BlockId> index_;  // hash -> first block with that hash
  BlockId head_ = kNoBlock;
  BlockId tail_ = kNoBlock;
  int32_t capacity_ = 0;
  int32_t num_free_ = 0;
  size_t num_cached_ = 0;
};

}  // namespace brix::engine::internal
