#include "tokenizer/internal/added_tokens.h"

namespace brix::tokenizer::internal {

AddedTokenMatcher::AddedTokenMatcher(std::vector<Pattern> patterns) : nodes_(1) {
  for (Pattern& p : patterns) {
    if (p.text.empty()) continue;
    uint32_t node = 0;
    for (char c : p.text) {
      const auto b = static_cast<unsigned char>(c);
      auto& children = nodes_[node].children;
      auto it =
          std::lower_bound(children.begin(), children.end(), b,
                           [](const auto& child, unsigned char key) { return child.first < key; });
      if (it == children.end() || it->first != b) {
        const auto child = static_cast<uint32_t>(nodes_.size());
        it = children.insert(it, {b, child});
        nodes_.emplace_back();  // invalidates `children`, not needed below
        node = child;
      } else {
        node = it->second;
      }
    }
    first_bytes_[static_cast<unsigned char>(p.text[0])] = true;
    nodes_[node].pattern = static_cast<int32_t>(patterns_.size());
    patterns_.push_back(std::move(p));
  }
}

const AddedTokenMatcher::Pattern* AddedTokenMatcher::LongestAt(std::string_view text, size_t pos,
                                                               size_t* length) const {
  const Pattern* best = nullptr;
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    const auto& children = nodes_[node].children;
    auto it =
        std::lower_bound(children.begin(), children.end(), b,
                         [](const auto& child, unsigned char key) { return child.first < key; });
    if (it == children.end() || it->first != b) break;
    node = it->second;
    if (nodes_[node].pattern >= 0) {
      best = &patterns_[static_cast<size_t>(nodes_[node].pattern)];
      *length = i + 1 - pos;
    }
  }
  return best;
}

bool AddedTokenMatcher::IsSingleWord(std::string_view text, size_t start, size_t stop) {
  if (start > 0 && IsWordChar(LastCodePoint(text.substr(0, start)))) return false;
  if (stop < text.size()) {
    size_t length;
    if (IsWordChar(DecodeUtf8At(text, stop, &length))) return false;
  }
  return true;
}

size_t AddedTokenMatcher::TrailingSpaceStart(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t begin = end - 1;
    while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
    size_t length;
    if (!IsWhiteSpace(DecodeUtf8At(text, begin, &length))) break;
    end = begin;
  }
  return end;
}

size_t AddedTokenMatcher::LeadingSpaceLength(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t length;
    if (!IsWhiteSpace(DecodeUtf8At(text, i, &length))) break;
    i += length;
  }
  return i;
}

}  // namespace brix::tokenizer::internal
