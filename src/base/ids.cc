#include "base/ids.h"

#include <cstdint>
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

void AppendRandomHex(std::string* out, size_t chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::mt19937_64& rng = Generator();
  const size_t start = out->size();
  out->resize(start + chars);  // one size change, then plain stores: this runs per request
  char* p = out->data() + start;
  while (chars > 0) {
    uint64_t bits = rng();
    const size_t n = chars < 16 ? chars : 16;
    for (size_t i = 0; i < n; ++i) {
      p[i] = kHex[bits & 0xf];
      bits >>= 4;
    }
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
