#include "workload/prompt_text.h"

#include <fmt/format.h>

#include <algorithm>

namespace brix::workload {

namespace {

// SplitMix64's finaliser: a cheap, well-mixed hash of one 64-bit value.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr size_t kMinWords = 1000;
constexpr int64_t kSampleWords = 2000;

}  // namespace

Result<PromptText> PromptText::Create(const tokenizer::Tokenizer& tokenizer) {
  PromptText text;
  const size_t vocab = tokenizer.vocab_size();
  tokenizer::EncodeOptions plain;
  plain.add_special_tokens = false;
  for (size_t id = 0; id < vocab; ++id) {
    std::optional<std::string_view> token =
        tokenizer.IdToToken(static_cast<tokenizer::TokenId>(id));
    // Byte-level BPE spells a leading space as "Ġ" (U+0120, bytes C4 A0).
    if (!token || !token->starts_with("\xC4\xA0")) continue;
    const std::string_view letters = token->substr(2);
    if (letters.size() < 2 || letters.size() > 12) continue;
    if (!std::all_of(letters.begin(), letters.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
      continue;
    }
    Word word{" " + std::string(letters), static_cast<tokenizer::TokenId>(id)};
    Result<std::vector<tokenizer::TokenId>> ids = tokenizer.Encode(word.text, plain);
    if (!ids || ids->size() != 1 || ids->front() != word.id) continue;
    text.words_.push_back(std::move(word));
  }
  if (text.words_.size() < kMinWords) {
    return FailedPrecondition(
        fmt::format("the tokenizer has {} single-token words, PromptText needs {}",
                    text.words_.size(), kMinWords));
  }
  std::sort(text.words_.begin(), text.words_.end(),
            [](const Word& a, const Word& b) { return a.text < b.text; });

  // The sample must keep its count (words do not merge across the spaces) and its ids.
  const Segment sample{MakeKey(KeySpace::kUnique, 0x5a5a), kSampleWords};
  std::string rendered;
  text.Append(sample, &rendered);
  std::vector<tokenizer::TokenId> expected;
  text.AppendIds(sample, &expected);
  Result<std::vector<tokenizer::TokenId>> ids = tokenizer.Encode(rendered, plain);
  if (!ids) return ids.error();
  if (*ids != expected) {
    return FailedPrecondition(fmt::format(
        "the tokenizer does not keep space-separated words apart ({} words gave {} tokens)",
        kSampleWords, ids->size()));
  }
  return text;
}

const PromptText::Word& PromptText::WordAt(uint64_t key, int64_t position) const {
  const uint64_t h = Mix(Mix(key) ^ static_cast<uint64_t>(position));
  return words_[h % words_.size()];
}

void PromptText::Append(const Segment& segment, std::string* out) const {
  for (int64_t i = 0; i < segment.tokens; ++i) out->append(WordAt(segment.key, i).text);
}

void PromptText::AppendIds(const Segment& segment, std::vector<tokenizer::TokenId>* out) const {
  for (int64_t i = 0; i < segment.tokens; ++i) out->push_back(WordAt(segment.key, i).id);
}

std::string PromptText::Render(std::span<const Segment> segments) const {
  std::string out;
  for (const Segment& s : segments) Append(s, &out);
  return out;
}

}  // namespace brix::workload
