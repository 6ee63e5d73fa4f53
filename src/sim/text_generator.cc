#include "sim/text_generator.h"

#include <algorithm>
#include <array>

#include "base/check.h"

namespace brix::sim {
namespace {

bool LooksLikeWord(std::string_view s) {
  if (s.size() < 3 || s.size() > 13 || s[0] != ' ') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

}  // namespace

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Result<std::shared_ptr<const TextGenerator>> TextGenerator::Create(
    const tokenizer::Tokenizer& tokenizer) {
  std::shared_ptr<TextGenerator> gen(new TextGenerator());
  const tokenizer::EncodeOptions no_special{.add_special_tokens = false};
  for (size_t i = 0; i < tokenizer.vocab_size(); ++i) {
    const auto id = static_cast<tokenizer::TokenId>(i);
    if (tokenizer.IsSpecial(id) || !tokenizer.IdToToken(id)) continue;
    std::array<tokenizer::TokenId, 1> one{id};
    auto text = tokenizer.Decode(one);
    if (!text || !LooksLikeWord(*text)) continue;
    auto back = tokenizer.Encode(*text, no_special);
    if (!back || back->size() != 1 || (*back)[0] != id) continue;
    gen->ids_.push_back(id);
    gen->text_.emplace(id, std::move(*text));
  }
  if (gen->ids_.size() < 64) {
    return FailedPrecondition("the tokenizer has too few single-token words to generate text (" +
                              std::to_string(gen->ids_.size()) + ")");
  }
  return std::shared_ptr<const TextGenerator>(std::move(gen));
}

tokenizer::TokenId TextGenerator::TokenAt(uint64_t seed, uint64_t index) const {
  return ids_[SplitMix64(SplitMix64(seed) ^ index) % ids_.size()];
}

std::string_view TextGenerator::Text(tokenizer::TokenId id) const {
  auto it = text_.find(id);
  BRIX_CHECK(it != text_.end());
  return it->second;
}

}  // namespace brix::sim
