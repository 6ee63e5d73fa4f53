// Open-addressing hash tables for the tokenizer's hot lookups: byte strings -> token ids, and
// merge pairs -> (rank, merged id).
//
// std::unordered_map allocates a node per entry and chases a pointer per probe; these tables keep
// everything in one array (linear probing, power-of-two capacity, load factor <= 1/2). They are
// filled once while a tokenizer loads and only read afterwards, so they are safe to share between
// threads once built. Neither supports erasure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::tokenizer::internal {

// Maps byte strings to 32-bit values. Keys are copied into one arena.
class StringIdMap {
 public:
  // Makes room for `n` keys without rehashing.
  void Reserve(size_t n);
  // Inserts `key`, or overwrites its value if present.
  void Insert(std::string_view key, uint32_t value);
  std::optional<uint32_t> Find(std::string_view key) const;
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint32_t tag = 0;  // high hash bits with the low bit set; 0 marks an empty slot
    uint32_t value = 0;
    uint32_t offset = 0;  // key bytes in keys_
    uint32_t length = 0;
  };

  static uint64_t Hash(std::string_view key);
  static uint32_t Tag(uint64_t hash) { return static_cast<uint32_t>(hash >> 32) | 1u; }
  std::string_view KeyOf(const Slot& s) const { return {keys_.data() + s.offset, s.length}; }
  void Rehash(size_t capacity);

  std::vector<Slot> slots_;
  std::string keys_;
  size_t size_ = 0;
};

// Maps a pair of 32-bit ids to a 64-bit value.
class PairMap {
 public:
  void Reserve(size_t n);
  // Inserts the pair, or overwrites its value if present.
  void Insert(uint32_t first, uint32_t second, uint64_t value);
  // Returns a pointer to the value, or nullptr. Valid until the next Insert.
  const uint64_t* Find(uint32_t first, uint32_t second) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = Key(first, second);
    for (size_t i = Index(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // the pair (2^32-1, 2^32-1), never an id pair
  struct Slot {
    uint64_t key = kEmpty;
    uint64_t value = 0;
  };

  static uint64_t Key(uint32_t first, uint32_t second) {
    return (static_cast<uint64_t>(first) << 32) | second;
  }
  size_t Index(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_) & mask_;
  }
  void Rehash(size_t capacity);

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

}  // namespace brix::tokenizer::internal
