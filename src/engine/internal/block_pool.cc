#include "engine/internal/block_pool.h"

#include "base/check.h"

namespace brix::engine::internal {

BlockPool::BlockPool(int32_t capacity) {
  BRIX_CHECK(capacity >= 1) << capacity;
  blocks_.reserve(capacity);
  Resize(capacity);
  // vLLM takes the first free block as the null block (padding for sliding windows); it is never
  // freed, so the usable pool is one smaller than num_gpu_blocks.
  BlockId null_block = PopHead();
  BRIX_CHECK(null_block == 0);
  blocks_[0].ref = 1;
}

double BlockPool::Usage() const {
  const int32_t usable = capacity_ - 1;
  if (usable <= 0) return 0;
  return 1.0 - static_cast<double>(num_free_) / usable;
}

BlockId BlockPool::PopHead() {
  BlockId b = head_;
  BRIX_CHECK(b != kNoBlock) << "pop from an empty free queue";
  Unlink(b);
  return b;
}

void BlockPool::PushTail(BlockId b) {
  Block& block = blocks_[b];
  block.prev = tail_;
  block.next = kNoBlock;
  if (tail_ != kNoBlock) {
    blocks_[tail_].next = b;
  } else {
    head_ = b;
  }
  tail_ = b;
  block.in_queue = true;
  ++num_free_;
}

void BlockPool::Unlink(BlockId b) {
  Block& block = blocks_[b];
  BRIX_CHECK(block.in_queue) << b;
  if (block.prev != kNoBlock) {
    blocks_[block.prev].next = block.next;
  } else {
    head_ = block.next;
  }
  if (block.next != kNoBlock) {
    blocks_[block.next].prev = block.prev;
  } else {
    tail_ = block.prev;
  }
  block.prev = block.next = kNoBlock;
  block.in_queue = false;
  --num_free_;
}

void BlockPool::Evict(BlockId b) {
  Block& block = blocks_[b];
  if (!block.hashed) return;
  auto it = index_.find(block.hash);
  BRIX_CHECK(it != index_.end()) << "hashed block " << b << " missing from the index";
  if (it->second == b) {
    if (block.same_hash_next == kNoBlock) {
      index_.erase(it);
    } else {
      it->second = block.same_hash_next;
    }
  } else {
    BlockId prev = it->second;
    while (blocks_[prev].same_hash_next != b) {
      prev = blocks_[prev].same_hash_next;
      BRIX_CHECK(prev != kNoBlock) << "block " << b << " missing from its hash chain";
    }
    blocks_[prev].same_hash_next = block.same_hash_next;
  }
  block.same_hash_next = kNoBlock;
  block.hashed = false;
  --num_cached_;
}

void BlockPool::Allocate(int32_t n, std::vector<BlockId>& out) {
  BRIX_CHECK(n <= num_free_) << n << " > " << num_free_;
  for (int32_t i = 0; i < n; ++i) {
    BlockId b = PopHead();
    Evict(b);
    blocks_[b].ref = 1;
    out.push_back(b);
  }
}

BlockId BlockPool::Lookup(uint64_t hash) const {
  auto it = index_.find(hash);
  return it == index_.end() ? kNoBlock : it->second;
}

void BlockPool::Touch(BlockId b) {
  Block& block = blocks_[b];
  if (block.ref == 0) Unlink(b);
  ++block.ref;
}

void BlockPool::Cache(BlockId b, uint64_t hash) {
  Block& block = blocks_[b];
  BRIX_CHECK(block.ref > 0 && !block.hashed) << b;
  block.hash = hash;
  block.hashed = true;
  block.same_hash_next = kNoBlock;
  ++num_cached_;
  auto [it, inserted] = index_.try_emplace(hash, b);
  if (!inserted) {
    BlockId last = it->second;
    while (blocks_[last].same_hash_next != kNoBlock) last = blocks_[last].same_hash_next;
    blocks_[last].same_hash_next = b;
  }
}

void BlockPool::Free(std::span<const BlockId> blocks) {
  for (BlockId b : blocks) {
    Block& block = blocks_[b];
    BRIX_CHECK(block.ref > 0 && b != 0) << b;
    if (--block.ref == 0) PushTail(b);
  }
}

void BlockPool::Resize(int32_t capacity) {
  BRIX_CHECK(capacity >= 1) << capacity;
  while (capacity_ < capacity) {
    BlockId b;
    if (!retired_.empty()) {
      b = retired_.back();
      retired_.pop_back();
      blocks_[b].retired = false;
    } else {
      b = static_cast<BlockId>(blocks_.size());
      blocks_.emplace_back();
    }
    PushTail(b);
    ++capacity_;
  }
  if (capacity_ > capacity) {
    BRIX_CHECK(capacity_ - capacity <= num_free_)
        << "shrinking to " << capacity << " needs " << capacity_ - capacity << " free blocks";
    while (capacity_ > capacity) {
      BlockId b = PopHead();
      Evict(b);
      blocks_[b].retired = true;
      retired_.push_back(b);
      --capacity_;
    }
  }
}

std::vector<BlockId> BlockPool::FreeQueue() const {
  std::vector<BlockId> queue;
  for (BlockId b = head_; b != kNoBlock; b = blocks_[b].next) queue.push_back(b);
  return queue;
}

void BlockPool::CheckInvariants() const {
  int32_t free = 0;
  BlockId prev = kNoBlock;
  for (BlockId b = head_; b != kNoBlock; b = blocks_[b].next) {
    const Block& block = blocks_[b];
    BRIX_CHECK(block.in_queue && block.ref == 0 && !block.retired) << b;
    BRIX_CHECK(block.prev == prev) << b;
    prev = b;
    ++free;
  }
  BRIX_CHECK(prev == tail_);
  BRIX_CHECK(free == num_free_) << free << " vs " << num_free_;
  int32_t live = 0;
  size_t hashed = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& block = blocks_[i];
    if (block.retired) {
      BRIX_CHECK(!block.in_queue && !block.hashed && block.ref == 0) << i;
      continue;
    }
    ++live;
    BRIX_CHECK(block.in_queue == (block.ref == 0)) << i;
    if (block.hashed) {
      ++hashed;
      // The block is reachable from its hash's chain.
      BlockId c = Lookup(block.hash);
      while (c != kNoBlock && c != static_cast<BlockId>(i)) c = blocks_[c].same_hash_next;
      BRIX_CHECK(c == static_cast<BlockId>(i)) << "block " << i << " not in its hash chain";
    }
  }
  BRIX_CHECK(live == capacity_) << live << " vs " << capacity_;
  BRIX_CHECK(hashed == num_cached_);
  BRIX_CHECK(blocks_[0].ref >= 1 && !blocks_[0].in_queue) << "null block";
}

}  // namespace brix::engine::internal
