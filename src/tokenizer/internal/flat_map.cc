#include "tokenizer/internal/flat_map.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "base/check.h"

namespace brix::tokenizer::internal {

namespace {

// Smallest power of two that keeps `n` keys at a load factor of at most 1/2 (minimum 16).
size_t CapacityFor(size_t n) { return std::bit_ceil(std::max<size_t>(16, n * 2)); }

}  // namespace

uint64_t StringIdMap::Hash(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

void StringIdMap::Reserve(size_t n) {
  if (CapacityFor(n) > slots_.size()) Rehash(CapacityFor(n));
}

void StringIdMap::Rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  const size_t mask = capacity - 1;
  for (const Slot& s : old) {
    if (s.tag == 0) continue;
    size_t i = Hash(KeyOf(s)) & mask;
    while (slots_[i].tag != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void StringIdMap::Insert(std::string_view key, uint32_t value) {
  BRIX_CHECK(keys_.size() + key.size() <= UINT32_MAX) << "vocabulary arena over 4 GiB";
  if ((size_ + 1) * 2 > slots_.size()) Rehash(CapacityFor(size_ + 1));
  const uint64_t h = Hash(key);
  const uint32_t tag = Tag(h);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  for (; slots_[i].tag != 0; i = (i + 1) & mask) {
    if (slots_[i].tag == tag && KeyOf(slots_[i]) == key) {
      slots_[i].value = value;
      return;
    }
  }
  slots_[i] =
      Slot{tag, value, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(key.size())};
  keys_.append(key);
  ++size_;
}

std::optional<uint32_t> StringIdMap::Find(std::string_view key) const {
  if (slots_.empty()) return std::nullopt;
  const uint64_t h = Hash(key);
  const uint32_t tag = Tag(h);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask; slots_[i].tag != 0; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.tag == tag && s.length == key.size() &&
        std::memcmp(keys_.data() + s.offset, key.data(), key.size()) == 0) {
      return s.value;
    }
  }
  return std::nullopt;
}

void PairMap::Reserve(size_t n) {
  if (CapacityFor(n) > slots_.size()) Rehash(CapacityFor(n));
}

void PairMap::Rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  shift_ = 64 - std::countr_zero(capacity);
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = Index(s.key);
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void PairMap::Insert(uint32_t first, uint32_t second, uint64_t value) {
  const uint64_t key = Key(first, second);
  BRIX_CHECK(key != kEmpty) << "reserved pair";
  if ((size_ + 1) * 2 > slots_.size()) Rehash(CapacityFor(size_ + 1));
  size_t i = Index(key);
  for (; slots_[i].key != kEmpty; i = (i + 1) & mask_) {
    if (slots_[i].key == key) {
      slots_[i].value = value;
      return;
    }
  }
  slots_[i] = Slot{key, value};
  ++size_;
}

}  // namespace brix::tokenizer::internal
