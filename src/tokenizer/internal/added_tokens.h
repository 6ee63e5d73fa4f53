// Finding added tokens (special tokens such as "<|eot_id|>", and user-added words) in text, before
// the text reaches the pre-tokenizer: the semantics of Hugging Face's
// AddedVocabulary::find_matches.
//
//   - Matches are leftmost-longest over all patterns, scanning resumes after each match.
//   - single_word: a match touching a word character (\w) on either side is discarded.
//   - lstrip / rstrip: the token also swallows the white space to its left / right, which
//     therefore disappears from the text (white space as in IsWhiteSpace).
//
// Immutable after construction; Split may run on any number of threads at once.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "tokenizer/internal/unicode.h"

namespace brix::tokenizer::internal {

class AddedTokenMatcher {
 public:
  struct Pattern {
    std::string text;  // what to find (for normalized tokens: the normalized content)
    uint32_t id = 0;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
  };

  // Empty patterns are ignored. Of two patterns with the same text, the later one wins.
  explicit AddedTokenMatcher(std::vector<Pattern> patterns = {});

  bool empty() const { return patterns_.empty(); }

  // Splits valid UTF-8 `text` into the text between tokens and the tokens: calls
  // on_text(std::string_view) for every non-empty stretch of text and on_token(uint32_t id) for
  // every token, in order. Both return Result<void>; the first error is returned.
  template <typename OnText, typename OnToken>
  Result<void> Split(std::string_view text, OnText&& on_text, OnToken&& on_token) const {
    if (patterns_.empty()) return text.empty() ? Result<void>() : on_text(text);
    size_t emitted = 0;  // text before this offset has been handed out
    size_t pos = 0;
    while (pos < text.size()) {
      if (!first_bytes_[static_cast<unsigned char>(text[pos])]) {
        ++pos;
        continue;
      }
      size_t length = 0;
      const Pattern* p = LongestAt(text, pos, &length);
      if (p == nullptr) {
        ++pos;
        continue;
      }
      size_t start = pos;
      size_t stop = pos + length;
      // The scan resumes after the match whether or not single_word discards it.
      pos = stop;
      if (p->single_word && !IsSingleWord(text, start, stop)) continue;
      if (p->lstrip) start = std::max(TrailingSpaceStart(text.substr(0, start)), emitted);
      if (p->rstrip) stop += LeadingSpaceLength(text.substr(stop));
      if (emitted < start) {
        if (Result<void> r = on_text(text.substr(emitted, start - emitted)); !r) return r;
      }
      if (Result<void> r = on_token(p->id); !r) return r;
      emitted = std::max(emitted, stop);
    }
    if (emitted < text.size()) return on_text(text.substr(emitted));
    return {};
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, uint32_t>> children;  // sorted by byte
    int32_t pattern = -1;                                      // index into patterns_
  };

  // The longest pattern that starts at text[pos], or nullptr.
  const Pattern* LongestAt(std::string_view text, size_t pos, size_t* length) const;
  static bool IsSingleWord(std::string_view text, size_t start, size_t stop);
  static size_t TrailingSpaceStart(std::string_view text);
  static size_t LeadingSpaceLength(std::string_view text);

  std::vector<Pattern> patterns_;
  std::vector<Node> nodes_;  // nodes_[0] is the root
  std::array<bool, 256> first_bytes_{};
};

}  // namespace brix::tokenizer::internal
