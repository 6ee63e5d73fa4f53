#include "tokenizer/internal/bpe.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>

namespace brix::tokenizer::internal {

namespace {

constexpr uint32_t Rank(uint64_t merge) { return static_cast<uint32_t>(merge >> 32); }
constexpr uint32_t MergedId(uint64_t merge) { return static_cast<uint32_t>(merge); }

// Reused buffers of the calling thread, so that encoding a word does not allocate.
struct Scratch {
  std::vector<uint32_t> symbols;
  std::vector<uint64_t> merges;  // MergeLinear: merges[i] is the merge of symbols i and i + 1
  // MergeHeap: a doubly linked list over the initial symbols plus a min-heap of candidates.
  std::vector<int32_t> prev;
  std::vector<int32_t> next;
  std::vector<uint8_t> alive;
  std::vector<uint64_t> heap;  // rank << 32 | index of the pair's left symbol
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// The ids of recently merged short words, per thread: text repeats a small set of words, and a hit
// costs a hash and a compare instead of a merge loop. Direct-mapped (a new word evicts the one in
// its slot), so it is bounded: 4096 slots of 96 bytes, 384 KiB per thread that encodes. Entries
// carry the model's instance number, so models never see each other's entries.
class WordCache {
 public:
  static constexpr size_t kMaxBytes = 30;
  static constexpr size_t kMaxIds = 12;

  // Appends the cached ids of `word` to *out and returns true, or returns false.
  bool Get(uint64_t owner, uint64_t hash, std::string_view word, std::vector<uint32_t>* out) const {
    const Entry& e = entries_[hash & (kSlots - 1)];
    if (e.owner != owner || e.hash != hash || e.length != word.size() ||
        std::memcmp(e.bytes, word.data(), word.size()) != 0) {
      return false;
    }
    out->insert(out->end(), e.ids, e.ids + e.count);
    return true;
  }

  void Put(uint64_t owner, uint64_t hash, std::string_view word, const std::vector<uint32_t>& ids) {
    if (word.size() > kMaxBytes || ids.size() > kMaxIds) return;
    Entry& e = entries_[hash & (kSlots - 1)];
    e.owner = owner;
    e.hash = hash;
    e.length = static_cast<uint8_t>(word.size());
    e.count = static_cast<uint8_t>(ids.size());
    std::memcpy(e.bytes, word.data(), word.size());
    std::copy(ids.begin(), ids.end(), e.ids);
  }

 private:
  static constexpr size_t kSlots = 4096;
  struct Entry {
    uint64_t owner = 0;  // 0: empty; instance numbers start at 1
    uint64_t hash = 0;
    uint8_t length = 0;
    uint8_t count = 0;
    char bytes[kMaxBytes];
    uint32_t ids[kMaxIds];
  };
  static_assert(sizeof(Entry) == 96);
  std::array<Entry, kSlots> entries_{};
};

WordCache& ThreadWordCache() {
  // On the heap: a large thread_local object would be set up for every thread, encoding or not.
  thread_local std::unique_ptr<WordCache> cache = std::make_unique<WordCache>();
  return *cache;
}

std::atomic<uint64_t> next_instance{1};

}  // namespace

BpeModel::BpeModel(Parts parts) : p_(std::move(parts)), instance_(next_instance.fetch_add(1)) {}

void BpeModel::EncodeWord(std::string_view word, std::vector<uint32_t>* out) const {
  if (p_.ignore_merges) {
    if (std::optional<uint32_t> id = p_.byte_vocab.Find(word)) {
      out->push_back(*id);
      return;
    }
  }
  if (word.size() == 1 && p_.byte_ids[static_cast<unsigned char>(word[0])]) {
    out->push_back(*p_.byte_ids[static_cast<unsigned char>(word[0])]);
    return;
  }
  const bool cacheable = word.size() <= WordCache::kMaxBytes;
  const uint64_t hash = cacheable ? XXH3_64bits(word.data(), word.size()) : 0;
  if (cacheable && ThreadWordCache().Get(instance_, hash, word, out)) return;
  std::vector<uint32_t>& symbols = ThreadScratch().symbols;
  InitialSymbols(word, &symbols);
  if (symbols.size() <= kLinearMergeLimit) {
    MergeLinear(&symbols);
  } else {
    MergeHeap(&symbols);
  }
  if (cacheable) ThreadWordCache().Put(instance_, hash, word, symbols);
  out->insert(out->end(), symbols.begin(), symbols.end());
}

void BpeModel::InitialSymbols(std::string_view word, std::vector<uint32_t>* symbols) const {
  symbols->clear();
  bool previous_was_unk = false;
  for (char c : word) {
    const auto b = static_cast<unsigned char>(c);
    if (p_.byte_ids[b]) {
      symbols->push_back(*p_.byte_ids[b]);
      previous_was_unk = false;
      continue;
    }
    const UnknownByte& unknown = p_.unknown_bytes[b];
    if (!unknown.fallback_ids.empty()) {
      symbols->insert(symbols->end(), unknown.fallback_ids.begin(), unknown.fallback_ids.end());
      previous_was_unk = false;
    } else if (unknown.is_unk) {
      if (!(p_.fuse_unk && previous_was_unk)) symbols->push_back(*p_.unk_id);
      previous_was_unk = true;
    }
    // Otherwise the byte is dropped, as Hugging Face tokenizers do without an unknown token.
  }
}

void BpeModel::MergeLinear(std::vector<uint32_t>* symbols) const {
  std::vector<uint32_t>& s = *symbols;
  if (s.size() < 2) return;
  std::vector<uint64_t>& m = ThreadScratch().merges;
  m.resize(s.size() - 1);
  for (size_t i = 0; i + 1 < s.size(); ++i) m[i] = MergeOf(s[i], s[i + 1]);
  while (!m.empty()) {
    // The lowest rank wins; `<` keeps the leftmost of equal pairs. Ranks are unique per pair, so
    // comparing whole values compares ranks.
    const auto best = std::min_element(m.begin(), m.end());
    if (*best == kNoMerge) break;
    const size_t i = static_cast<size_t>(best - m.begin());
    s[i] = MergedId(*best);
    s.erase(s.begin() + static_cast<ptrdiff_t>(i) + 1);
    m.erase(m.begin() + static_cast<ptrdiff_t>(i));
    if (i > 0) m[i - 1] = MergeOf(s[i - 1], s[i]);
    if (i < m.size()) m[i] = MergeOf(s[i], s[i + 1]);
  }
}

void BpeModel::MergeHeap(std::vector<uint32_t>* symbols) const {
  std::vector<uint32_t>& s = *symbols;
  Scratch& scratch = ThreadScratch();
  const auto n = static_cast<int32_t>(s.size());
  std::vector<int32_t>& prev = scratch.prev;
  std::vector<int32_t>& next = scratch.next;
  prev.resize(s.size());
  next.resize(s.size());
  std::vector<uint8_t>& alive = scratch.alive;
  alive.assign(s.size(), 1);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  std::vector<uint64_t>& heap = scratch.heap;
  heap.clear();
  const auto push = [&](int32_t left) {
    const uint64_t merge = MergeOf(s[left], s[next[left]]);
    if (merge == kNoMerge) return;
    heap.push_back((static_cast<uint64_t>(Rank(merge)) << 32) | static_cast<uint32_t>(left));
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const uint64_t top = heap.back();
    heap.pop_back();
    const auto left = static_cast<int32_t>(top & 0xFFFFFFFFu);
    // Entries go stale when either symbol took part in another merge since they were pushed.
    if (!alive[left] || next[left] < 0) continue;
    const int32_t right = next[left];
    const uint64_t merge = MergeOf(s[left], s[right]);
    if (merge == kNoMerge || Rank(merge) != static_cast<uint32_t>(top >> 32)) continue;
    s[left] = MergedId(merge);
    alive[right] = 0;
    next[left] = next[right];
    if (next[left] >= 0) prev[next[left]] = left;
    if (prev[left] >= 0) push(prev[left]);
    if (next[left] >= 0) push(left);
  }
  size_t out = 0;
  for (int32_t i = 0; i >= 0 && i < n; i = next[i]) s[out++] = s[i];
  s.resize(out);
}

}  // namespace brix::tokenizer::internal
