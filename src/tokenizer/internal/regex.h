// A compiled PCRE2 pattern for pre-tokenizer splitting: 8-bit, UTF and UCP mode, JIT-compiled
// when the library supports it. Immutable after Compile(); safe to share between threads (each
// thread matches with its own match data and JIT stack).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.h"

struct pcre2_real_code_8;

namespace brix::tokenizer::internal {

// Rewrites a tokenizer.json pattern for PCRE2: `\s` and `\S` become explicit classes of
// ECMAScript's white space (see README.md, "White space"); everything else is kept. A `\S` inside
// a character class cannot be expressed that way and is InvalidArgument.
Result<std::string> TranslatePattern(std::string_view pattern);

class Regex {
 public:
  // Compiles `pattern` (after TranslatePattern); with `literal` it matches the text of `pattern`
  // exactly. Syntax errors are InvalidArgument naming the offset in the pattern.
  static Result<Regex> Compile(std::string_view pattern, bool literal = false);

  Regex(Regex&& other) noexcept : code_(std::exchange(other.code_, nullptr)), jit_(other.jit_) {}
  Regex& operator=(Regex&& other) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex();

  // Finds the leftmost match that starts at or after `offset` (a code point boundary of valid
  // UTF-8 `subject`; lookbehinds may look before it). Returns false if there is none, and
  // ResourceExhausted if PCRE2 stopped at its match or stack limits.
  Result<bool> Search(std::string_view subject, size_t offset, size_t* start, size_t* end) const;

  // Calls `on_match(start, end)` (returning Result<void>) for each successive match, iterating
  // like the Rust regex and Oniguruma crates that Hugging Face tokenizers use: after a match
  // the search resumes at its end, and an empty match right where the previous match ended is
  // skipped (the search then resumes one code point later).
  template <typename OnMatch>
  Result<void> ForEachMatch(std::string_view subject, OnMatch&& on_match) const {
    size_t pos = 0;
    std::optional<size_t> last_end;
    while (pos <= subject.size()) {
      size_t start;
      size_t end;
      Result<bool> found = Search(subject, pos, &start, &end);
      if (!found) return found.error();
      if (!*found) break;
      if (start == end && last_end == end) {
        if (pos == subject.size()) break;
        pos += CodePointLength(subject[pos]);
        continue;
      }
      if (Result<void> r = on_match(start, end); !r) return r;
      pos = end;
      last_end = end;
    }
    return {};
  }

  bool jit() const { return jit_; }

 private:
  Regex(pcre2_real_code_8* code, bool jit) : code_(code), jit_(jit) {}
  static size_t CodePointLength(char lead) {
    const auto b = static_cast<unsigned char>(lead);
    return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  }

  pcre2_real_code_8* code_;
  bool jit_;
};

}  // namespace brix::tokenizer::internal
