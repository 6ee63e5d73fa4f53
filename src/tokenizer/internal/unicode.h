// UTF-8 and Unicode helpers for the tokenizer: validation, lossy decoding with U+FFFD, Unicode
// normalization forms (through utf8proc) and the two character classes that added-token
// matching needs. Stateless; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace brix::tokenizer::internal {

// True if `s` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Appends `s` to `out`, replacing every maximal subpart of an ill-formed sequence with U+FFFD.
// This is the decoder of the WHATWG Encoding Standard, which is also what JavaScript's
// TextDecoder and Rust's String::from_utf8_lossy do, so replacement counts match theirs.
void AppendUtf8Lossy(std::string_view s, std::string* out);

// Decodes the code point that starts at s[i] and sets *length to its size in bytes. `s` must be
// valid UTF-8 and i < s.size().
char32_t DecodeUtf8At(std::string_view s, size_t i, size_t* length);

// The last code point of valid UTF-8 `s` (which must not be empty).
char32_t LastCodePoint(std::string_view s);

// Appends the UTF-8 encoding of `cp` (a Unicode scalar value).
void AppendUtf8(char32_t cp, std::string* out);

// The four Unicode normalization forms.
enum class NormalizationForm { kNfc, kNfd, kNfkc, kNfkd };

// Normalizes valid UTF-8 `in`. Returns false, leaving *out untouched, when `in` is already in
// that form by a cheap sufficient check (so callers can keep using `in`); otherwise writes the
// normalized text to *out and returns true.
bool Normalize(NormalizationForm form, std::string_view in, std::string* out);

// White space as ECMAScript defines it (`\s`, String.prototype.trim): tab, LF, VT, FF, CR, the
// space separators (Zs), LS, PS and U+FEFF. This is the definition Brix uses everywhere (regex
// `\s`, added tokens' lstrip/rstrip); see README.md, "White space".
bool IsWhiteSpace(char32_t cp);

// A word character in the sense of the Rust regex crate's `\w`: letters, marks, decimal and
// letter numbers, connector punctuation, and the two joiner controls (by utf8proc categories).
bool IsWordChar(char32_t cp);

// The Unicode version of the normalization and category tables in use (utf8proc's).
std::string_view UnicodeVersion();

}  // namespace brix::tokenizer::internal
