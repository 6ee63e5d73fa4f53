// Tokenizer: a Hugging Face tokenizer.json (byte-level BPE: Llama 3, Qwen 2/2.5/3, Mistral
// tekken-style, GPT-2) loaded into an immutable object that encodes text to token ids, decodes
// ids to text and counts tokens, with the same results as the reference implementation.
//
//   auto tok = Tokenizer::LoadDirectory(".cache/tokenizers/llama3");  // Result<...>
//   if (!tok) return tok.error();                 // unsupported features name their JSON path
//   Result<std::vector<TokenId>> ids = (*tok)->Encode("Hello world");
//
// Encoding follows tokenizers' pipeline: added tokens are found in the raw text first; the rest
// is normalized (NFC, ...), pre-tokenized (Split regexes, ByteLevel), and BPE-encoded word by
// word; the post-processor's template then adds special tokens such as a BOS. Text that is not
// valid UTF-8 is repaired first: every maximal ill-formed subsequence becomes U+FFFD (what
// JavaScript's TextDecoder and Rust's from_utf8_lossy do), so Encode never rejects bytes.
//
// Ownership and threads: loading returns a shared_ptr to a const Tokenizer. Every method is
// const and safe to call from any number of threads at once; scratch space is per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace brix::tokenizer {

using TokenId = uint32_t;

namespace internal {
struct Model;
}  // namespace internal

// What tokenizer_config.json says about special tokens and chat (all optional). Brix does not
// run the Jinja chat template; it is kept for callers that want to show or compare it.
struct TokenizerMetadata {
  std::optional<std::string> bos_token;
  std::optional<TokenId> bos_token_id;  // set when bos_token is in the vocabulary
  std::optional<std::string> eos_token;
  std::optional<TokenId> eos_token_id;
  std::optional<std::string> pad_token;
  std::optional<TokenId> pad_token_id;
  std::optional<std::string> chat_template;  // the default template's Jinja source
  std::optional<uint64_t> model_max_length;  // absent when unset or "unbounded" (>= 2^64)
  // Whether transformers removes spaces before punctuation when decoding (see DecodeOptions).
  bool clean_up_tokenization_spaces = false;
};

struct EncodeOptions {
  // Apply the post-processor's template, e.g. prepend <|begin_of_text|>. Special tokens written
  // in the text itself are recognised either way.
  bool add_special_tokens = true;
};

struct DecodeOptions {
  // Leave out added tokens marked special (BOS, EOS, <|im_start|>, ...).
  bool skip_special_tokens = false;
  // Apply transformers' clean_up_tokenization (" ." -> ".", " n't" -> "n't", ...), as it does
  // by default when tokenizer_config.json sets clean_up_tokenization_spaces. Lossy.
  bool clean_up_tokenization_spaces = false;
};

class Tokenizer {
 public:
  // Parses tokenizer.json text and, if not empty, tokenizer_config.json text. Errors are
  // InvalidArgument listing every problem found, each with its JSON path, e.g.
  // "tokenizer.json: pre_tokenizer.pretokenizers[1].type: unsupported 'Metaspace'".
  static Result<std::shared_ptr<const Tokenizer>> FromJson(
      std::string_view tokenizer_json, std::string_view tokenizer_config_json = {});

  // Reads `tokenizer_json` and, if not empty, `tokenizer_config_json` (NotFound if missing).
  static Result<std::shared_ptr<const Tokenizer>> LoadFiles(
      const std::filesystem::path& tokenizer_json,
      const std::filesystem::path& tokenizer_config_json = {});

  // Reads `dir`/tokenizer.json and, when present, `dir`/tokenizer_config.json.
  static Result<std::shared_ptr<const Tokenizer>> LoadDirectory(const std::filesystem::path& dir);

  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;
  ~Tokenizer();

  // The token ids of `text` (any bytes; see the file comment for invalid UTF-8). Fails only with
  // ResourceExhausted when a pre-tokenizer regex hits PCRE2's backtracking limits.
  Result<std::vector<TokenId>> Encode(std::string_view text,
                                      const EncodeOptions& options = {}) const;

  // Appends the ids of `text` to *ids; same contract as Encode. After an error *ids may hold part
  // of the result.
  Result<void> EncodeTo(std::string_view text, const EncodeOptions& options,
                        std::vector<TokenId>* ids) const;

  // The number of ids Encode would return.
  Result<size_t> CountTokens(std::string_view text, const EncodeOptions& options = {}) const;

  // The text of `ids`: byte-level tokens are concatenated into bytes and decoded as UTF-8 with
  // U+FFFD for ill-formed sequences; added tokens appear verbatim. InvalidArgument if an id is
  // not in the vocabulary.
  Result<std::string> Decode(std::span<const TokenId> ids, const DecodeOptions& options = {}) const;

  // The id of a vocabulary entry as tokenizer.json spells it ("Ġthe", "<|eot_id|>").
  std::optional<TokenId> TokenToId(std::string_view token) const;
  // The vocabulary entry of `id` as tokenizer.json spells it.
  std::optional<std::string_view> IdToToken(TokenId id) const;
  // Whether `id` is an added token marked special.
  bool IsSpecial(TokenId id) const;
  // One more than the largest id in the model vocabulary or the added tokens.
  size_t vocab_size() const;

  const TokenizerMetadata& metadata() const;

 private:
  explicit Tokenizer(std::unique_ptr<const internal::Model> model);

  std::unique_ptr<const internal::Model> model_;
};

}  // namespace brix::tokenizer
