// What the gateway believes each endpoint holds in its prefix cache, learnt from its own routing
// decisions: prompts are cut into blocks of token ids, each block hashed together with all the
// blocks before it, and the chain of hashes is recorded for the endpoint the request went to.
// A later prompt that shares a prefix shares the hashes of that prefix, so the number of its
// leading hashes an endpoint holds is the number of prefix blocks the endpoint likely has cached.
//
//   std::vector<uint64_t> hashes;
//   BlockHashes(token_ids, /*block_size=*/64, hashes);
//   index.Match(hashes, candidates, now_s, matched);  // matched[i]: leading blocks held by i
//   ...pick...
//   index.Insert(hashes, chosen.name, now_s);
//
// It is a belief, not the truth: the engine may have evicted what the index still lists (bounded
// by the per-endpoint capacity and the expiry), and blocks cached by answers are not seen.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "router/router.h"

namespace brix::router {

// Chained hashes of the full blocks of `ids` (a shorter tail is ignored, as engines cache only
// full blocks): h_i = XXH3-64(block i's ids, seed h_{i-1}), h_{-1} = kPrefixHashSeed. Replaces
// the contents of `out`. block_size > 0.
inline constexpr uint64_t kPrefixHashSeed = 0x6272697870726678ULL;  // "brixprfx"
void BlockHashes(std::span<const uint32_t> ids, size_t block_size, std::vector<uint64_t>& out);

class PrefixIndex {
 public:
  struct Options {
    // Blocks remembered per endpoint; the least recently used are forgotten first. The default
    // (16,384 blocks of 64 tokens = 1M tokens) is above what one 80 GB GPU holds for an 8B model
    // (~450k tokens), so the bound is memory, not accuracy. ~100 bytes per block.
    size_t capacity_blocks = 16384;
    // A block not routed to for this long is forgotten (engines evict idle blocks under load).
    double ttl_s = 600;
  };

  PrefixIndex() : PrefixIndex(Options{}) {}
  explicit PrefixIndex(Options options);

  // For each candidate (by name), how many leading blocks of `hashes` it holds: matched[i] = k
  // means hashes[0..k) are all recorded for candidates[i] and not expired at now_s. `matched`
  // has candidates.size() entries.
  void Match(std::span<const uint64_t> hashes, std::span<const EndpointView> candidates,
             double now_s, std::span<size_t> matched) const;
  // Records that `endpoint` holds hashes[0..n) as of now_s (a request with this prompt went
  // there). Touching in reverse order keeps every endpoint's set prefix-closed: a block is never
  // older than the blocks after it, so it is never forgotten before them (Match relies on this).
  void Insert(std::span<const uint64_t> hashes, std::string_view endpoint, double now_s);

  // Blocks recorded, summed over endpoints (for tests and metrics).
  size_t size() const;

 private:
  struct Block {
    uint64_t hash;
    double last_s;
  };
  // One endpoint's blocks: a list in recency order (front = least recent) and a hash -> node map.
  struct Endpoint {
    std::list<Block> lru;
    std::unordered_map<uint64_t, std::list<Block>::iterator> where;
  };

  bool Holds(const Endpoint& e, uint64_t hash, double now_s) const;

  const Options options_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Endpoint>, std::less<>> endpoints_;
};

}  // namespace brix::router
