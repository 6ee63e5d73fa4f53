// Everything a loaded tokenizer consists of. Built by LoadModel (loader.h), owned by a Tokenizer,
// immutable afterwards and read concurrently by any number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/internal/added_tokens.h"
#include "tokenizer/internal/bpe.h"
#include "tokenizer/internal/flat_map.h"
#include "tokenizer/internal/pre_tokenizer.h"
#include "tokenizer/internal/unicode.h"
#include "tokenizer/tokenizer.h"

namespace brix::tokenizer::internal {

// One id of the vocabulary. Strings live in Model::strings.
struct TokenEntry {
  uint32_t spelling_offset = 0;  // as tokenizer.json writes it ("Ġthe")
  uint32_t spelling_length = 0;
  uint32_t bytes_offset = 0;  // what decoding produces (" the")
  uint32_t bytes_length = 0;
  bool present = false;  // false for ids that neither the vocabulary nor added_tokens define
  bool added = false;    // an entry of added_tokens (decoded verbatim)
  bool special = false;  // an added token marked special
};

struct Model {
  std::vector<TokenEntry> tokens;  // indexed by id
  std::string strings;
  StringIdMap spelling_ids;  // spelling -> id; added tokens take precedence

  // Added tokens that match the raw text (normalized == false) and those that match the
  // normalized text (normalized == true, by their normalized content).
  AddedTokenMatcher raw_added;
  AddedTokenMatcher normalized_added;
  std::vector<NormalizationForm> normalizers;  // applied in order
  PreTokenizer pre_tokenizer;
  BpeModel bpe;
  // The post-processor's single-sequence template around the encoded text.
  std::vector<uint32_t> template_prefix;
  std::vector<uint32_t> template_suffix;

  TokenizerMetadata metadata;

  std::string_view Spelling(const TokenEntry& t) const {
    return {strings.data() + t.spelling_offset, t.spelling_length};
  }
  std::string_view Bytes(const TokenEntry& t) const {
    return {strings.data() + t.bytes_offset, t.bytes_length};
  }
};

}  // namespace brix::tokenizer::internal
