#include "tokenizer/tokenizer.h"

#include <fmt/format.h>

#include <fstream>
#include <system_error>

#include "tokenizer/internal/loader.h"
#include "tokenizer/internal/model.h"
#include "tokenizer/internal/unicode.h"

namespace brix::tokenizer {

namespace {

using internal::Model;
using internal::TokenEntry;

// tokenizer.json files are around 10 MiB; anything far larger is not one.
constexpr uintmax_t kMaxFileBytes = 256u << 20;

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound(fmt::format("{}: {}", path.string(), ec.message()));
  if (size > kMaxFileBytes) {
    return InvalidArgument(
        fmt::format("{}: {} bytes is too large for a tokenizer file", path.string(), size));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(fmt::format("{}: cannot open", path.string()));
  std::string data(static_cast<size_t>(size), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (static_cast<uintmax_t>(in.gcount()) != size) {
    return Unavailable(fmt::format("{}: short read", path.string()));
  }
  return data;
}

// transformers' clean_up_tokenization: each replacement in turn, over the whole text.
void CleanUpTokenization(std::string* text) {
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto& [from, to] : kRules) {
    std::string out;
    size_t pos = 0;
    for (size_t hit; (hit = text->find(from, pos)) != std::string::npos; pos = hit + from.size()) {
      out.append(*text, pos, hit - pos);
      out.append(to);
    }
    if (pos == 0) continue;
    out.append(*text, pos);
    *text = std::move(out);
  }
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<const internal::Model> model) : model_(std::move(model)) {}

Tokenizer::~Tokenizer() = default;

Result<std::shared_ptr<const Tokenizer>> Tokenizer::FromJson(
    std::string_view tokenizer_json, std::string_view tokenizer_config_json) {
  Result<std::unique_ptr<Model>> model = internal::LoadModel(tokenizer_json, tokenizer_config_json);
  if (!model) return model.error();
  return std::shared_ptr<const Tokenizer>(new Tokenizer(std::move(*model)));
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::LoadFiles(
    const std::filesystem::path& tokenizer_json,
    const std::filesystem::path& tokenizer_config_json) {
  Result<std::string> json = ReadFile(tokenizer_json);
  if (!json) return json.error();
  std::string config;
  if (!tokenizer_config_json.empty()) {
    Result<std::string> c = ReadFile(tokenizer_config_json);
    if (!c) return c.error();
    config = std::move(*c);
  }
  Result<std::shared_ptr<const Tokenizer>> tokenizer = FromJson(*json, config);
  // Messages name the file ("tokenizer.json: model.vocab: ..."); add the folder it is in.
  if (!tokenizer && tokenizer_json.has_parent_path()) {
    return MakeError(
        tokenizer.error().code,
        fmt::format("{}/{}", tokenizer_json.parent_path().string(), tokenizer.error().message));
  }
  return tokenizer;
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::LoadDirectory(
    const std::filesystem::path& dir) {
  const std::filesystem::path config = dir / "tokenizer_config.json";
  std::error_code ec;
  return LoadFiles(dir / "tokenizer.json",
                   std::filesystem::exists(config, ec) ? config : std::filesystem::path());
}

Result<std::vector<TokenId>> Tokenizer::Encode(std::string_view text,
                                               const EncodeOptions& options) const {
  std::vector<TokenId> ids;
  // Byte-level BPE averages about four bytes per token on English; a third avoids most regrowth.
  ids.reserve(text.size() / 3 + 4);
  if (Result<void> r = EncodeTo(text, options, &ids); !r) return r.error();
  return ids;
}

Result<void> Tokenizer::EncodeTo(std::string_view text, const EncodeOptions& options,
                                 std::vector<TokenId>* ids) const {
  const Model& m = *model_;
  std::string repaired;
  if (!internal::IsValidUtf8(text)) {
    internal::AppendUtf8Lossy(text, &repaired);
    text = repaired;
  }
  if (options.add_special_tokens) {
    ids->insert(ids->end(), m.template_prefix.begin(), m.template_prefix.end());
  }

  const auto on_token = [&](uint32_t id) -> Result<void> {
    ids->push_back(id);
    return {};
  };
  const auto on_word = [&](std::string_view word) -> Result<void> {
    m.bpe.EncodeWord(word, ids);
    return {};
  };
  const auto encode_text = [&](std::string_view piece) -> Result<void> {
    return m.pre_tokenizer.Run(piece, on_word);
  };
  // Text between raw-matched added tokens: normalize, then look for the normalized ones.
  std::string normalized;
  std::string scratch;
  const auto on_raw_text = [&](std::string_view section) -> Result<void> {
    std::string_view current = section;
    for (internal::NormalizationForm form : m.normalizers) {
      if (internal::Normalize(form, current, &scratch)) {
        normalized.swap(scratch);
        current = normalized;
      }
    }
    return m.normalized_added.Split(current, encode_text, on_token);
  };
  if (Result<void> r = m.raw_added.Split(text, on_raw_text, on_token); !r) return r;

  if (options.add_special_tokens) {
    ids->insert(ids->end(), m.template_suffix.begin(), m.template_suffix.end());
  }
  return {};
}

Result<size_t> Tokenizer::CountTokens(std::string_view text, const EncodeOptions& options) const {
  thread_local std::vector<TokenId> ids;
  ids.clear();
  if (Result<void> r = EncodeTo(text, options, &ids); !r) return r.error();
  const size_t count = ids.size();
  // Keep the buffer for the next call on this thread, but not a huge one.
  if (ids.capacity() > (1u << 20)) std::vector<TokenId>().swap(ids);
  return count;
}

Result<std::string> Tokenizer::Decode(std::span<const TokenId> ids,
                                      const DecodeOptions& options) const {
  const Model& m = *model_;
  std::string text;
  // Bytes of consecutive byte-level tokens, decoded together so that characters split across
  // tokens come out whole. Added tokens are text already and interrupt a run (as in
  // transformers.js; tokenizers gives the same result for every added token that is ASCII).
  std::string run;
  for (TokenId id : ids) {
    if (id >= m.tokens.size() || !m.tokens[id].present) {
      return InvalidArgument(fmt::format("token id {} is not in the vocabulary", id));
    }
    const TokenEntry& t = m.tokens[id];
    if (options.skip_special_tokens && t.special) continue;
    if (t.added) {
      internal::AppendUtf8Lossy(run, &text);
      run.clear();
      text.append(m.Bytes(t));
    } else {
      run.append(m.Bytes(t));
    }
  }
  internal::AppendUtf8Lossy(run, &text);
  if (options.clean_up_tokenization_spaces) CleanUpTokenization(&text);
  return text;
}

std::optional<TokenId> Tokenizer::TokenToId(std::string_view token) const {
  return model_->spelling_ids.Find(token);
}

std::optional<std::string_view> Tokenizer::IdToToken(TokenId id) const {
  if (id >= model_->tokens.size() || !model_->tokens[id].present) return std::nullopt;
  return model_->Spelling(model_->tokens[id]);
}

bool Tokenizer::IsSpecial(TokenId id) const {
  return id < model_->tokens.size() && model_->tokens[id].special;
}

size_t Tokenizer::vocab_size() const { return model_->tokens.size(); }

const TokenizerMetadata& Tokenizer::metadata() const { return model_->metadata; }

}  // namespace brix::tokenizer
