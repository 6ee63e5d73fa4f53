#include "router/prefix_index.h"

#include <xxhash.h>

#include "base/check.h"

namespace brix::router {

void BlockHashes(std::span<const uint32_t> ids, size_t block_size, std::vector<uint64_t>& out) {
  BRIX_CHECK(block_size > 0) << "block size 0";
  out.clear();
  const size_t blocks = ids.size() / block_size;
  out.reserve(blocks);
  uint64_t parent = kPrefixHashSeed;
  for (size_t i = 0; i < blocks; ++i) {
    parent = XXH3_64bits_withSeed(&ids[i * block_size], block_size * sizeof(uint32_t), parent);
    out.push_back(parent);
  }
}

PrefixIndex::PrefixIndex(Options options) : options_(options) {
  BRIX_CHECK(options_.capacity_blocks > 0) << "prefix index capacity 0";
}

bool PrefixIndex::Holds(const Endpoint& e, uint64_t hash, double now_s) const {
  auto it = e.where.find(hash);
  return it != e.where.end() && now_s - it->second->last_s <= options_.ttl_s;
}

void PrefixIndex::Match(std::span<const uint64_t> hashes, std::span<const EndpointView> candidates,
                        double now_s, std::span<size_t> matched) const {
  BRIX_CHECK(matched.size() == candidates.size()) << matched.size() << " != " << candidates.size();
  std::lock_guard lock(mu_);
  for (size_t c = 0; c < candidates.size(); ++c) {
    matched[c] = 0;
    auto it = endpoints_.find(candidates[c].name);
    if (it == endpoints_.end()) continue;
    const Endpoint& e = *it->second;
    // The held blocks are a prefix of `hashes` (see Insert), so binary search for its length:
    // blocks [0, lo) are held, [hi, n) are not.
    size_t lo = 0;
    size_t hi = hashes.size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (Holds(e, hashes[mid], now_s)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    matched[c] = lo;
  }
}

void PrefixIndex::Insert(std::span<const uint64_t> hashes, std::string_view endpoint,
                         double now_s) {
  std::lock_guard lock(mu_);
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) {
    it = endpoints_.emplace(std::string(endpoint), std::make_unique<Endpoint>()).first;
  }
  Endpoint& e = *it->second;
  for (size_t i = hashes.size(); i-- > 0;) {
    const uint64_t hash = hashes[i];
    auto found = e.where.find(hash);
    if (found != e.where.end()) {
      found->second->last_s = now_s;
      e.lru.splice(e.lru.end(), e.lru, found->second);
      continue;
    }
    if (e.lru.size() < options_.capacity_blocks) {
      e.lru.push_back({hash, now_s});
    } else {
      // Full: the least recently used block's node becomes this one.
      e.where.erase(e.lru.front().hash);
      e.lru.front() = {hash, now_s};
      e.lru.splice(e.lru.end(), e.lru, e.lru.begin());
    }
    e.where.emplace(hash, std::prev(e.lru.end()));
  }
}

size_t PrefixIndex::size() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [name, e] : endpoints_) n += e->lru.size();
  return n;
}

}  // namespace brix::router
