#include "net/internal/header_text.h"

#include <gtest/gtest.h>

#include <string>

namespace brix::net::internal {
namespace {

// The word-at-a-time scan must find each forbidden byte at every offset, in and after the
// 8-byte words, and nothing else (bytes that differ from CR/LF/NUL only in their high bit).
TEST(HeaderTextTest, FindsLineBreaksAndNulAtEveryPosition) {
  for (size_t size = 0; size <= 20; ++size) {
    const std::string clean(size, 'a');
    EXPECT_FALSE(HasLineBreakOrNul(clean)) << size;
    for (size_t at = 0; at < size; ++at) {
      for (const char bad : {'\r', '\n', '\0'}) {
        std::string s = clean;
        s[at] = bad;
        EXPECT_TRUE(HasLineBreakOrNul(s)) << size << " " << at << " " << int(bad);
      }
      for (const char fine : {'\x8d', '\x8a', '\x80', '\x0c', '\x0b', '\x01', '\xff', ' '}) {
        std::string s = clean;
        s[at] = fine;
        EXPECT_FALSE(HasLineBreakOrNul(s)) << size << " " << at << " " << int(fine);
      }
    }
  }
}

}  // namespace
}  // namespace brix::net::internal
