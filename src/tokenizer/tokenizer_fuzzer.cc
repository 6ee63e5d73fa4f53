// Fuzzes the tokenizer with the fixture (testdata/tokenizer.json). The first input byte picks:
//   0  Encode the rest as text (any bytes), with and without special tokens
//   1  Decode the rest as little-endian 16-bit ids (some beyond the vocabulary)
//   2  Load the rest as tokenizer.json and, if it loads, encode and decode with it
// Nothing may crash, hang or abort; the checks below abort on broken invariants.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using brix::tokenizer::TokenId;
using brix::tokenizer::Tokenizer;

const Tokenizer& Fixture() {
  static const std::shared_ptr<const Tokenizer> tokenizer = [] {
    auto t = Tokenizer::LoadDirectory(BRIX_TOKENIZER_TESTDATA);
    if (!t) {
      std::fprintf(stderr, "tokenizer_fuzzer: %s\n", t.error().ToString().c_str());
      std::abort();
    }
    return *t;
  }();
  return *tokenizer;
}

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tokenizer_fuzzer: invariant broken: %s\n", what);
    std::abort();
  }
}

bool IsPlainAscii(std::string_view s) {
  for (char c : s) {
    // '<' and '[' start the fixture's added tokens, some of which swallow white space.
    if (static_cast<unsigned char>(c) >= 0x80 || c == '<' || c == '[') return false;
  }
  return true;
}

void CheckEncode(const Tokenizer& t, std::string_view text) {
  for (bool special : {false, true}) {
    auto ids = t.Encode(text, {.add_special_tokens = special});
    if (!ids) {
      // Only PCRE2's backtracking limits may stop an encode.
      Require(ids.error().code == brix::Errc::kResourceExhausted, "encode error kind");
      continue;
    }
    auto count = t.CountTokens(text, {.add_special_tokens = special});
    Require(count && *count == ids->size(), "CountTokens == Encode().size()");
    for (TokenId id : *ids) Require(id < t.vocab_size(), "encoded id in vocabulary");
    auto text_again = t.Decode(*ids, {.skip_special_tokens = special});
    Require(text_again.has_value(), "decoding encoded ids");
    if (!special && IsPlainAscii(text)) Require(*text_again == text, "ASCII round trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      CheckEncode(Fixture(), rest);
      break;
    case 1: {
      std::vector<TokenId> ids;
      for (size_t i = 0; i + 1 < rest.size(); i += 2) {
        ids.push_back(static_cast<uint8_t>(rest[i]) | (static_cast<uint8_t>(rest[i + 1]) << 8));
      }
      auto text = Fixture().Decode(ids);
      bool all_known = true;
      for (TokenId id : ids) all_known = all_known && Fixture().IdToToken(id).has_value();
      Require(text.has_value() == all_known, "Decode fails exactly on unknown ids");
      break;
    }
    case 2: {
      auto t = Tokenizer::FromJson(rest);
      if (t) CheckEncode(**t, "Hello, world! <|eot|> caf\xC3\xA9 \xE4\xBD\xA0  \n\xFF");
      break;
    }
  }
  return 0;
}
