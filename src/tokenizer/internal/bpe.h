// The byte-level BPE model: turns one pre-tokenized word (raw bytes) into token ids.
//
// Vocabulary and merges arrive in GPT-2's byte alphabet; the loader converts them to raw bytes
// and ids once, so encoding never builds alphabet strings. Merging follows Hugging Face
// tokenizers' BPE::merge_word exactly: start from one symbol per byte, repeatedly apply the
// lowest-ranked merge among adjacent pairs (the leftmost on ties) until none applies.
//
// Immutable after construction; EncodeWord may run on any number of threads at once (its scratch
// space and its cache of recently merged words are per thread, bounded, and need no locks).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/internal/flat_map.h"

namespace brix::tokenizer::internal {

class BpeModel {
 public:
  // Ids to emit for a byte whose single-byte token is missing from the vocabulary: the
  // `<0xHH>` tokens of its alphabet character (byte_fallback), the unknown token, or nothing.
  struct UnknownByte {
    std::vector<uint32_t> fallback_ids;  // non-empty: byte fallback applies
    bool is_unk = false;                 // otherwise: emit the unknown token (fused if asked)
  };

  struct Parts {
    StringIdMap byte_vocab;  // raw bytes -> id, for every token the byte alphabet can spell
    PairMap merges;          // (left id, right id) -> rank << 32 | merged id
    std::array<std::optional<uint32_t>, 256> byte_ids;  // the single-byte token of each byte
    std::array<UnknownByte, 256> unknown_bytes;         // used where byte_ids has no value
    std::optional<uint32_t> unk_id;
    bool fuse_unk = false;
    bool ignore_merges = false;  // look the whole word up before merging
  };

  BpeModel() : BpeModel(Parts{}) {}
  explicit BpeModel(Parts parts);

  // Appends the ids of `word` (raw bytes, not empty) to *out.
  void EncodeWord(std::string_view word, std::vector<uint32_t>* out) const;

 private:
  // Merges for words of up to this many symbols scan an array for the best pair (cache friendly,
  // O(n^2)); longer words use a heap (O(n log n)), which bounds the cost of a megabyte-long word.
  static constexpr size_t kLinearMergeLimit = 64;

  // The initial symbols: one per byte, or the unknown-byte replacements.
  void InitialSymbols(std::string_view word, std::vector<uint32_t>* symbols) const;
  void MergeLinear(std::vector<uint32_t>* symbols) const;
  void MergeHeap(std::vector<uint32_t>* symbols) const;
  // The merge value for a pair, or kNoMerge.
  uint64_t MergeOf(uint32_t left, uint32_t right) const {
    const uint64_t* v = p_.merges.Find(left, right);
    return v != nullptr ? *v : kNoMerge;
  }

  static constexpr uint64_t kNoMerge = ~uint64_t{0};

  Parts p_;
  // Tags this model's entries in the per-thread word cache; unique for the process lifetime.
  uint64_t instance_;
};

}  // namespace brix::tokenizer::internal
