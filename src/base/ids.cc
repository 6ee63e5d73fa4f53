#include "base/ids.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <random>

namespace brix::base {

namespace {

std::mt19937_64& Generator() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }());
  return rng;
}

}  // namespace

// "000102...ff": the two hex digits of every byte value, so a random byte costs one copy.
constexpr std::array<char, 512> kHexPairs = [] {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 512> pairs{};
  for (size_t b = 0; b < 256; ++b) {
    pairs[2 * b] = kHex[b >> 4];
    pairs[2 * b + 1] = kHex[b & 0xf];
  }
  return pairs;
}();

void AppendRandomHex(std::string* out, size_t chars) {
  std::mt19937_64& rng = Generator();
  const size_t start = out->size();
  out->resize(start + chars);  // one size change, then plain stores: this runs per request
  char* p = out->data() + start;
  while (chars > 0) {
    uint64_t bits = rng();
    const size_t n = chars < 16 ? chars : 16;
    for (size_t i = 0; i + 1 < n; i += 2) {
      std::memcpy(p + i, &kHexPairs[2 * (bits & 0xff)], 2);
      bits >>= 8;
    }
    if (n % 2 == 1) p[n - 1] = kHexPairs[2 * (bits & 0xf) + 1];
    p += n;
    chars -= n;
  }
}

std::string NewRequestId() {
  std::string id;
  id.reserve(32);
  AppendRandomHex(&id, 32);
  return id;
}

}  // namespace brix::base
