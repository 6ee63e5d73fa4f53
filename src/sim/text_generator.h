// TextGenerator: the words `brix sim` "generates", chosen so that the text tokenises back to
// exactly the tokens that were counted.
//
// At start-up it collects the vocabulary entries that decode to a space followed by 2-12 ASCII
// lowercase letters and that encode back to that one id (" the", " model", ...). Byte-level BPE
// pre-tokenizers (the Llama 3 and Qwen regexes) split text before every " word", so a
// concatenation of N such pieces encodes to exactly those N ids. Which piece comes at position i
// of an answer is a pure function of (seed, i): answers are reproducible for a request `seed`.
//
//   auto gen = TextGenerator::Create(tokenizer);
//   tokenizer::TokenId id = gen->TokenAt(seed, i);
//   std::string_view piece = gen->Text(id);
//
// Thread-safe after Create (immutable).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "tokenizer/tokenizer.h"

namespace brix::sim {

// SplitMix64's finaliser: a cheap, well-mixed 64-bit hash, for draws that depend only on a seed.
uint64_t SplitMix64(uint64_t x);

class TextGenerator {
 public:
  // FailedPrecondition when the vocabulary has fewer than 64 usable words.
  static Result<std::shared_ptr<const TextGenerator>> Create(const tokenizer::Tokenizer& tokenizer);

  // The token at position `index` of the answer seeded with `seed`.
  tokenizer::TokenId TokenAt(uint64_t seed, uint64_t index) const;

  // The text of a token returned by TokenAt.
  std::string_view Text(tokenizer::TokenId id) const;

  // How many distinct words there are to choose from.
  size_t size() const { return ids_.size(); }

 private:
  TextGenerator() = default;

  std::vector<tokenizer::TokenId> ids_;  // sorted, so the choice does not depend on hash order
  std::unordered_map<tokenizer::TokenId, std::string> text_;
};

}  // namespace brix::sim
