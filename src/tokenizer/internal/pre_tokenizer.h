// The pre-tokenizer: cuts normalized text into the words that BPE encodes one at a time.
//
// It is a list of Split steps (a regex or a literal, with a delimiter behaviour, optionally
// inverted) followed by exactly one ByteLevel step (optional prefix space, optional GPT-2 regex).
// Each step runs on every piece the previous step produced, as in Hugging Face tokenizers'
// PreTokenizedString::split; empty pieces are dropped. Words come out as raw UTF-8 bytes: the
// byte-to-alphabet mapping of the ByteLevel step is folded into the BPE vocabulary at load time.
//
// Immutable after construction; Run may be called from any number of threads at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "tokenizer/internal/regex.h"

namespace brix::tokenizer::internal {

// What a Split step does with the pieces that its pattern matches (Hugging Face's
// SplitDelimiterBehavior).
enum class SplitBehavior {
  kRemoved,             // drop them
  kIsolated,            // keep each as a piece of its own
  kMergedWithPrevious,  // append each to the piece before it
  kMergedWithNext,      // prepend each to the piece after it
  kContiguous,          // join runs of adjacent matches into one piece
};

class PreTokenizer {
 public:
  struct SplitStep {
    Regex pattern;
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;  // the pieces between matches are the "matches"
  };
  struct ByteLevelStep {
    bool add_prefix_space = false;  // prepend ' ' to a piece that does not start with one
    std::optional<Regex> gpt2;      // set when use_regex: GPT-2's word-splitting regex
  };

  // Without steps every text is one word.
  PreTokenizer() = default;
  PreTokenizer(std::vector<SplitStep> splits, ByteLevelStep byte_level)
      : splits_(std::move(splits)), byte_level_(std::move(byte_level)) {}

  // The regex GPT-2 (and the ByteLevel pre-tokenizer with use_regex) splits words with.
  static constexpr std::string_view kGpt2Pattern =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

  // Calls on_word(std::string_view) -> Result<void> for every word (never empty) of valid UTF-8
  // `text`, in order. Errors are regex failures (ResourceExhausted) or those of on_word.
  template <typename OnWord>
  Result<void> Run(std::string_view text, OnWord&& on_word) const {
    if (text.empty()) return {};
    return RunStep(0, text, on_word);
  }

 private:
  template <typename OnWord>
  Result<void> RunStep(size_t step, std::string_view text, OnWord& on_word) const {
    if (step == splits_.size()) return RunByteLevel(text, on_word);
    return SplitPieces(splits_[step], text,
                       [&](std::string_view piece) { return RunStep(step + 1, piece, on_word); });
  }

  template <typename OnWord>
  Result<void> RunByteLevel(std::string_view text, OnWord& on_word) const {
    std::string prefixed;
    if (byte_level_.add_prefix_space && text.front() != ' ') {
      prefixed.reserve(text.size() + 1);
      prefixed.push_back(' ');
      prefixed.append(text);
      text = prefixed;
    }
    if (!byte_level_.gpt2) return on_word(text);
    return ForEachSegment(*byte_level_.gpt2, false, text,
                          [&](size_t start, size_t end, bool /*is_match*/) -> Result<void> {
                            if (start == end) return {};
                            return on_word(text.substr(start, end - start));
                          });
  }

  // Calls on_segment(start, end, is_match) for the matches of `pattern` in `text` and the gaps
  // between them, covering all of `text` in order (Hugging Face's Pattern::find_matches).
  template <typename OnSegment>
  static Result<void> ForEachSegment(const Regex& pattern, bool invert, std::string_view text,
                                     OnSegment&& on_segment) {
    size_t previous = 0;
    Result<void> r = pattern.ForEachMatch(text, [&](size_t start, size_t end) -> Result<void> {
      if (previous != start) {
        if (Result<void> g = on_segment(previous, start, invert); !g) return g;
      }
      previous = end;
      return on_segment(start, end, !invert);
    });
    if (!r) return r;
    if (previous != text.size()) return on_segment(previous, text.size(), invert);
    return {};
  }

  // Applies `step` to `text` and calls on_piece(std::string_view) for each non-empty piece
  // (Hugging Face's NormalizedString::split).
  template <typename OnPiece>
  static Result<void> SplitPieces(const SplitStep& step, std::string_view text,
                                  OnPiece&& on_piece) {
    struct Span {
      size_t start;
      size_t end;
    };
    const auto emit = [&](Span s) -> Result<void> {
      if (s.start == s.end) return {};
      return on_piece(text.substr(s.start, s.end - s.start));
    };
    std::optional<Span> pending;  // the last piece, still open to extension
    bool previous_match = false;
    Result<void> r = ForEachSegment(step.pattern, step.invert, text,
                                    [&](size_t start, size_t end, bool is_match) -> Result<void> {
                                      const Span span{start, end};
                                      switch (step.behavior) {
                                        case SplitBehavior::kIsolated:
                                          return emit(span);
                                        case SplitBehavior::kRemoved:
                                          return is_match ? Result<void>() : emit(span);
                                        case SplitBehavior::kMergedWithPrevious:
                                        case SplitBehavior::kContiguous: {
                                          const bool extend =
                                              step.behavior == SplitBehavior::kContiguous
                                                  ? is_match == previous_match
                                                  : is_match && !previous_match;
                                          previous_match = is_match;
                                          if (extend && pending) {
                                            pending->end = end;
                                            return {};
                                          }
                                          std::optional<Span> done = std::exchange(pending, span);
                                          return done ? emit(*done) : Result<void>();
                                        }
                                        case SplitBehavior::kMergedWithNext: {
                                          // A match joins the piece after it when that piece is not
                                          // a match itself.
                                          if (is_match) {
                                            std::optional<Span> done = std::exchange(pending, span);
                                            return done ? emit(*done) : Result<void>();
                                          }
                                          if (pending) {
                                            const Span merged{pending->start, end};
                                            pending.reset();
                                            return emit(merged);
                                          }
                                          return emit(span);
                                        }
                                      }
                                      return {};
                                    });
    if (!r) return r;
    return pending ? emit(*pending) : Result<void>();
  }

  std::vector<SplitStep> splits_;
  ByteLevelStep byte_level_;
};

}  // namespace brix::tokenizer::internal
