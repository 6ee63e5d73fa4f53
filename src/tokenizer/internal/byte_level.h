// GPT-2's byte-level alphabet: every byte maps to one printable code point so that a vocabulary of
// strings can hold arbitrary bytes ("Ġ" is the space byte, "Ċ" the newline byte). Byte-level BPE
// vocabularies and merges are written in this alphabet; Brix converts them back to raw bytes once,
// at load, and then works on the input's bytes directly. Stateless; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace brix::tokenizer::internal {

// The code point that stands for `byte`.
char32_t ByteToChar(unsigned char byte);

// The byte that `cp` stands for, or -1 if `cp` is not in the alphabet.
int CharToByte(char32_t cp);

// Raw bytes -> alphabet text (UTF-8), e.g. " hi" -> "Ġhi".
std::string BytesToChars(std::string_view bytes);

// Alphabet text -> raw bytes, or nullopt if `text` (valid UTF-8) has a code point outside the
// alphabet.
std::optional<std::string> CharsToBytes(std::string_view text);

}  // namespace brix::tokenizer::internal
