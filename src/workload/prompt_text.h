// PromptText: deterministic prompt text whose token count is exact for a given tokenizer.
//
// The text of a segment is `tokens` words, each a space and a word that the tokenizer encodes as
// exactly one token (" the", " river", ...), picked by a hash of (key, position). So:
//   - a segment of n tokens is exactly n tokens, and segments concatenate without merging (the
//     byte-level pre-tokenizers of Llama 3, Qwen and GPT-2 split before every space+letters);
//   - n tokens of a key are a prefix of m > n tokens of the same key;
//   - the same key gives byte-identical text (and ids) in every request and every run.
// The words are the tokenizer's own vocabulary entries of 2-12 lowercase ASCII letters after a
// space, each checked to encode back to its single id; Create() also checks a rendered sample.
//
// Immutable after Create(); every method is const and safe from any thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "tokenizer/tokenizer.h"
#include "workload/workload.h"

namespace brix::workload {

class PromptText {
 public:
  // FailedPrecondition when the tokenizer has too few such words (under 1,000) or does not keep
  // them apart (the sample's count differs).
  static Result<PromptText> Create(const tokenizer::Tokenizer& tokenizer);

  // Appends the text of `segment` to *out.
  void Append(const Segment& segment, std::string* out) const;
  // Appends the token ids of `segment` (what encoding Append's text gives) to *out.
  void AppendIds(const Segment& segment, std::vector<tokenizer::TokenId>* out) const;
  // The text of `segments`, in order.
  std::string Render(std::span<const Segment> segments) const;

  size_t word_count() const { return words_.size(); }

 private:
  struct Word {
    std::string text;  // with its leading space
    tokenizer::TokenId id = 0;
  };
  const Word& WordAt(uint64_t key, int64_t position) const;

  std::vector<Word> words_;  // sorted by text, so the choice does not depend on id order
};

}  // namespace brix::workload
