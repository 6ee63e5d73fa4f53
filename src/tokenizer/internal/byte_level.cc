#include "tokenizer/internal/byte_level.h"

#include <array>

#include "tokenizer/internal/unicode.h"

namespace brix::tokenizer::internal {

namespace {

// bytes_to_unicode() from GPT-2's encoder.py: printable Latin-1 bytes stand for themselves; the
// other 68 bytes, in increasing order, take U+0100, U+0101, ...
struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int, 324> to_byte{};  // indexed by code point; U+0100 + 67 is the largest

  Tables() {
    to_byte.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_char[b] = printable ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[b]] = b;
    }
  }
};

const Tables& GetTables() {
  static const Tables tables;
  return tables;
}

}  // namespace

char32_t ByteToChar(unsigned char byte) { return GetTables().to_char[byte]; }

int CharToByte(char32_t cp) {
  const Tables& t = GetTables();
  return cp < t.to_byte.size() ? t.to_byte[cp] : -1;
}

std::string BytesToChars(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) AppendUtf8(ByteToChar(static_cast<unsigned char>(c)), &out);
  return out;
}

std::optional<std::string> CharsToBytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t length;
    const int b = CharToByte(DecodeUtf8At(text, i, &length));
    if (b < 0) return std::nullopt;
    out.push_back(static_cast<char>(b));
    i += length;
  }
  return out;
}

}  // namespace brix::tokenizer::internal
