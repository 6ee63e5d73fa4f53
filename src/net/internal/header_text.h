// Checks on text that goes into an HTTP header, shared by the server and the client.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace brix::net::internal {

// Whether `s` holds CR, LF or NUL, any of which would let a field value end its line early and
// start another (response or request splitting). Eight bytes at a time: it runs over every field
// of every message.
inline bool HasLineBreakOrNul(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  // Non-zero exactly when some byte of x is zero.
  const auto has_zero_byte = [](uint64_t x) { return (x - kOnes) & ~x & kHighs; };
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, sizeof(word));
    if (has_zero_byte(word) | has_zero_byte(word ^ (kOnes * '\r')) |
        has_zero_byte(word ^ (kOnes * '\n'))) {
      return true;
    }
  }
  for (; i < s.size(); ++i) {
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') return true;
  }
  return false;
}

}  // namespace brix::net::internal
