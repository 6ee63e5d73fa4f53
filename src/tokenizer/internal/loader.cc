#include "tokenizer/internal/loader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/json.hpp>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/check.h"
#include "tokenizer/internal/byte_level.h"

namespace brix::tokenizer::internal {

namespace json = boost::json;

namespace {

// Collects the problems of one load, each as "<file>: <json path>: <message>".
class Diagnostics {
 public:
  void set_file(std::string_view file) { file_ = file; }

  void Add(std::string_view path, std::string_view message) {
    ++count_;
    if (lines_.size() < kMaxReported) {
      lines_.push_back(fmt::format("{}: {}: {}", file_, path.empty() ? "(root)" : path, message));
    }
  }

  bool ok() const { return count_ == 0; }
  size_t count() const { return count_; }

  Error ToError() const {
    std::string text = fmt::format("{}", fmt::join(lines_, "; "));
    if (count_ > lines_.size()) text += fmt::format("; ... and {} more", count_ - lines_.size());
    return InvalidArgument(std::move(text));
  }

 private:
  // A broken 280k-line merges list should not produce a megabyte of error text.
  static constexpr size_t kMaxReported = 20;

  std::string_view file_;
  std::vector<std::string> lines_;
  size_t count_ = 0;
};

std::string Join(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string At(std::string_view path, size_t index) { return fmt::format("{}[{}]", path, index); }

// The largest id accepted for a vocabulary of `entries` ids: they are meant to be 0..entries-1;
// this leaves room for gaps but keeps a hostile file from making id-indexed tables huge.
size_t MaxIdFor(size_t entries) { return 2 * entries + 1024; }

std::string_view KindOf(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

void Expected(Diagnostics& d, std::string_view path, std::string_view what, const json::value& v) {
  d.Add(path, fmt::format("expected {}, got {}", what, KindOf(v)));
}

// A member that is absent or null reads as absent.
const json::value* Member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

const json::object* AsObject(const json::value& v, std::string_view path, Diagnostics& d) {
  if (!v.is_object()) {
    Expected(d, path, "an object", v);
    return nullptr;
  }
  return &v.get_object();
}

const json::array* AsArray(const json::value& v, std::string_view path, Diagnostics& d) {
  if (!v.is_array()) {
    Expected(d, path, "an array", v);
    return nullptr;
  }
  return &v.get_array();
}

std::optional<std::string_view> AsString(const json::value& v, std::string_view path,
                                         Diagnostics& d) {
  if (!v.is_string()) {
    Expected(d, path, "a string", v);
    return std::nullopt;
  }
  return std::string_view(v.get_string());
}

// A non-negative integer that fits an id.
std::optional<uint32_t> AsId(const json::value& v, std::string_view path, Diagnostics& d) {
  std::optional<int64_t> n;
  if (v.is_int64()) n = v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    n = static_cast<int64_t>(v.get_uint64());
  }
  // Ids beyond 2^31 would make the id-indexed tables absurdly large; no real vocabulary has them.
  if (!n || *n < 0 || *n > std::numeric_limits<int32_t>::max()) {
    d.Add(path, fmt::format("expected a token id (an integer from 0 to 2^31-1), got {}",
                            json::serialize(v)));
    return std::nullopt;
  }
  return static_cast<uint32_t>(*n);
}

bool ReadBool(const json::object& o, std::string_view key, std::string_view path, bool fallback,
              Diagnostics& d) {
  const json::value* v = Member(o, key);
  if (v == nullptr) return fallback;
  if (!v->is_bool()) {
    Expected(d, Join(path, key), "a boolean", *v);
    return fallback;
  }
  return v->get_bool();
}

// The "type" member of a component object; reports it when missing.
std::optional<std::string_view> TypeOf(const json::object& o, std::string_view path,
                                       Diagnostics& d) {
  const json::value* v = Member(o, "type");
  if (v == nullptr) {
    d.Add(Join(path, "type"), "missing");
    return std::nullopt;
  }
  return AsString(*v, Join(path, "type"), d);
}

void Unsupported(Diagnostics& d, std::string_view path, std::string_view type,
                 std::string_view supported) {
  d.Add(Join(path, "type"), fmt::format("unsupported '{}' ({})", type, supported));
}

Result<json::value> ParseDocument(std::string_view text, std::string_view file,
                                  json::storage_ptr storage) {
  json::parse_options options;
  options.max_depth = 64;
  json::stream_parser parser(storage, options);
  boost::system::error_code ec;
  const size_t consumed = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    size_t line = 1;
    size_t column = 1;
    for (size_t i = 0; i < consumed && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return InvalidArgument(fmt::format("{}: not valid JSON at line {}, column {}: {}", file, line,
                                       column, ec.message()));
  }
  return parser.release();
}

// ---- normalizer -------------------------------------------------------------------------------

void ParseNormalizer(const json::value& v, const std::string& path, Diagnostics& d,
                     std::vector<NormalizationForm>* forms) {
  const json::object* o = AsObject(v, path, d);
  if (o == nullptr) return;
  std::optional<std::string_view> type = TypeOf(*o, path, d);
  if (!type) return;
  if (*type == "NFC") {
    forms->push_back(NormalizationForm::kNfc);
  } else if (*type == "NFD") {
    forms->push_back(NormalizationForm::kNfd);
  } else if (*type == "NFKC") {
    forms->push_back(NormalizationForm::kNfkc);
  } else if (*type == "NFKD") {
    forms->push_back(NormalizationForm::kNfkd);
  } else if (*type == "Sequence") {
    const std::string list_path = Join(path, "normalizers");
    const json::value* list = Member(*o, "normalizers");
    if (list == nullptr) {
      d.Add(list_path, "missing");
      return;
    }
    if (const json::array* a = AsArray(*list, list_path, d)) {
      for (size_t i = 0; i < a->size(); ++i) ParseNormalizer((*a)[i], At(list_path, i), d, forms);
    }
  } else {
    Unsupported(d, path, *type, "supported: NFC, NFD, NFKC, NFKD, Sequence");
  }
}

// ---- pre-tokenizer ----------------------------------------------------------------------------

struct PreTokenizerSpec {
  std::vector<PreTokenizer::SplitStep> splits;
  std::optional<PreTokenizer::ByteLevelStep> byte_level;
  std::string byte_level_path;
};

std::optional<SplitBehavior> ParseBehavior(std::string_view name) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return std::nullopt;
}

void ParseSplit(const json::object& o, const std::string& path, Diagnostics& d,
                PreTokenizerSpec* spec) {
  std::optional<Regex> regex;
  const std::string pattern_path = Join(path, "pattern");
  if (const json::value* p = Member(o, "pattern"); p == nullptr) {
    d.Add(pattern_path, "missing");
  } else if (const json::object* po = AsObject(*p, pattern_path, d)) {
    const json::value* re = Member(*po, "Regex");
    const json::value* str = Member(*po, "String");
    if ((re == nullptr) == (str == nullptr)) {
      d.Add(pattern_path, "expected exactly one of 'Regex' and 'String'");
    } else {
      const std::string member_path = Join(pattern_path, re != nullptr ? "Regex" : "String");
      if (std::optional<std::string_view> text =
              AsString(re != nullptr ? *re : *str, member_path, d)) {
        Result<Regex> compiled = Regex::Compile(*text, /*literal=*/str != nullptr);
        if (compiled) {
          regex.emplace(std::move(*compiled));
        } else {
          d.Add(member_path, compiled.error().message);
        }
      }
    }
  }
  std::optional<SplitBehavior> behavior;
  const std::string behavior_path = Join(path, "behavior");
  if (const json::value* b = Member(o, "behavior"); b == nullptr) {
    d.Add(behavior_path, "missing");
  } else if (std::optional<std::string_view> name = AsString(*b, behavior_path, d)) {
    behavior = ParseBehavior(*name);
    if (!behavior) {
      d.Add(behavior_path, fmt::format("unsupported '{}' (supported: Removed, Isolated, "
                                       "MergedWithPrevious, MergedWithNext, Contiguous)",
                                       *name));
    }
  }
  const bool invert = ReadBool(o, "invert", path, false, d);
  if (spec->byte_level) {
    d.Add(path, fmt::format("a Split after the ByteLevel step ({}) is unsupported; ByteLevel "
                            "must come last",
                            spec->byte_level_path));
    return;
  }
  if (regex && behavior) spec->splits.push_back({std::move(*regex), *behavior, invert});
}

void ParsePreTokenizer(const json::value& v, const std::string& path, Diagnostics& d,
                       PreTokenizerSpec* spec) {
  const json::object* o = AsObject(v, path, d);
  if (o == nullptr) return;
  std::optional<std::string_view> type = TypeOf(*o, path, d);
  if (!type) return;
  if (*type == "Sequence") {
    const std::string list_path = Join(path, "pretokenizers");
    const json::value* list = Member(*o, "pretokenizers");
    if (list == nullptr) {
      d.Add(list_path, "missing");
      return;
    }
    if (const json::array* a = AsArray(*list, list_path, d)) {
      for (size_t i = 0; i < a->size(); ++i) ParsePreTokenizer((*a)[i], At(list_path, i), d, spec);
    }
  } else if (*type == "Split") {
    ParseSplit(*o, path, d, spec);
  } else if (*type == "ByteLevel") {
    if (spec->byte_level) {
      d.Add(path, fmt::format("a second ByteLevel step (the first is {})", spec->byte_level_path));
      return;
    }
    PreTokenizer::ByteLevelStep step;
    step.add_prefix_space = ReadBool(*o, "add_prefix_space", path, false, d);
    if (ReadBool(*o, "use_regex", path, true, d)) {
      Result<Regex> gpt2 = Regex::Compile(PreTokenizer::kGpt2Pattern);
      BRIX_CHECK(gpt2) << gpt2.error().message;
      step.gpt2.emplace(std::move(*gpt2));
    }
    spec->byte_level.emplace(std::move(step));
    spec->byte_level_path = path;
  } else {
    Unsupported(d, path, *type, "supported: Split, ByteLevel, Sequence");
  }
}

// ---- post-processor ---------------------------------------------------------------------------

struct TemplateSpec {
  std::vector<uint32_t> prefix;
  std::vector<uint32_t> suffix;
  bool seen = false;
};

void ParseTemplate(const json::object& o, const std::string& path, Diagnostics& d,
                   TemplateSpec* spec) {
  if (spec->seen) {
    d.Add(path, "a second TemplateProcessing is unsupported");
    return;
  }
  spec->seen = true;
  const json::object* specials = nullptr;
  const std::string specials_path = Join(path, "special_tokens");
  if (const json::value* s = Member(o, "special_tokens")) specials = AsObject(*s, specials_path, d);

  const std::string single_path = Join(path, "single");
  const json::value* single = Member(o, "single");
  if (single == nullptr) {
    d.Add(single_path, "missing");
    return;
  }
  const json::array* items = AsArray(*single, single_path, d);
  if (items == nullptr) return;
  int sequences = 0;
  for (size_t i = 0; i < items->size(); ++i) {
    const std::string item_path = At(single_path, i);
    const json::object* item = AsObject((*items)[i], item_path, d);
    if (item == nullptr) continue;
    if (const json::value* seq = Member(*item, "Sequence")) {
      const json::object* so = AsObject(*seq, Join(item_path, "Sequence"), d);
      const json::value* id = so != nullptr ? Member(*so, "id") : nullptr;
      if (id == nullptr || !id->is_string() || id->get_string() != "A") {
        d.Add(Join(item_path, "Sequence.id"), "expected 'A' in a single-sequence template");
        continue;
      }
      ++sequences;
    } else if (const json::value* special = Member(*item, "SpecialToken")) {
      const std::string special_path = Join(item_path, "SpecialToken");
      const json::object* so = AsObject(*special, special_path, d);
      if (so == nullptr) continue;
      const json::value* id = Member(*so, "id");
      if (id == nullptr) {
        d.Add(Join(special_path, "id"), "missing");
        continue;
      }
      std::optional<std::string_view> name = AsString(*id, Join(special_path, "id"), d);
      if (!name) continue;
      const json::value* entry = specials != nullptr ? Member(*specials, *name) : nullptr;
      const json::value* ids =
          entry != nullptr && entry->is_object() ? Member(entry->get_object(), "ids") : nullptr;
      if (ids == nullptr) {
        d.Add(specials_path, fmt::format("no entry with 'ids' for '{}'", *name));
        continue;
      }
      const std::string ids_path = Join(Join(specials_path, *name), "ids");
      if (const json::array* a = AsArray(*ids, ids_path, d)) {
        for (size_t k = 0; k < a->size(); ++k) {
          if (std::optional<uint32_t> tid = AsId((*a)[k], At(ids_path, k), d)) {
            (sequences == 0 ? spec->prefix : spec->suffix).push_back(*tid);
          }
        }
      }
    } else {
      d.Add(item_path, "expected 'Sequence' or 'SpecialToken'");
    }
  }
  if (sequences != 1) d.Add(single_path, "expected exactly one $A sequence");
}

void ParsePostProcessor(const json::value& v, const std::string& path, Diagnostics& d,
                        TemplateSpec* spec) {
  const json::object* o = AsObject(v, path, d);
  if (o == nullptr) return;
  std::optional<std::string_view> type = TypeOf(*o, path, d);
  if (!type) return;
  if (*type == "ByteLevel") {
    // Only adjusts offsets, which Brix does not produce.
  } else if (*type == "TemplateProcessing") {
    ParseTemplate(*o, path, d, spec);
  } else if (*type == "Sequence") {
    const std::string list_path = Join(path, "processors");
    const json::value* list = Member(*o, "processors");
    if (list == nullptr) {
      d.Add(list_path, "missing");
      return;
    }
    if (const json::array* a = AsArray(*list, list_path, d)) {
      for (size_t i = 0; i < a->size(); ++i) ParsePostProcessor((*a)[i], At(list_path, i), d, spec);
    }
  } else {
    Unsupported(d, path, *type, "supported: ByteLevel, TemplateProcessing, Sequence");
  }
}

// ---- model ------------------------------------------------------------------------------------

struct AddedTokenSpec {
  uint32_t id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

std::vector<AddedTokenSpec> ParseAddedTokens(const json::object& root, Diagnostics& d) {
  std::vector<AddedTokenSpec> out;
  const json::value* v = Member(root, "added_tokens");
  if (v == nullptr) return out;
  const json::array* a = AsArray(*v, "added_tokens", d);
  if (a == nullptr) return out;
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string path = At("added_tokens", i);
    const json::object* o = AsObject((*a)[i], path, d);
    if (o == nullptr) continue;
    AddedTokenSpec t;
    const json::value* id = Member(*o, "id");
    const json::value* content = Member(*o, "content");
    if (id == nullptr) d.Add(Join(path, "id"), "missing");
    if (content == nullptr) d.Add(Join(path, "content"), "missing");
    if (id == nullptr || content == nullptr) continue;
    std::optional<uint32_t> tid = AsId(*id, Join(path, "id"), d);
    std::optional<std::string_view> text = AsString(*content, Join(path, "content"), d);
    if (!tid || !text) continue;
    if (text->empty()) continue;  // tokenizers ignores empty added tokens
    t.id = *tid;
    t.content = *text;
    t.single_word = ReadBool(*o, "single_word", path, false, d);
    t.lstrip = ReadBool(*o, "lstrip", path, false, d);
    t.rstrip = ReadBool(*o, "rstrip", path, false, d);
    t.special = ReadBool(*o, "special", path, false, d);
    // tokenizers' AddedToken::from(content, special) normalizes non-special tokens only.
    t.normalized = ReadBool(*o, "normalized", path, !t.special, d);
    out.push_back(std::move(t));
  }
  return out;
}

// Fills the vocabulary, merges and unknown-byte handling of `model` from the "model" object.
void ParseBpe(const json::object& o, Diagnostics& d, Model* model, BpeModel::Parts* bpe) {
  const std::string path = "model";
  if (std::optional<std::string_view> type = TypeOf(o, path, d)) {
    if (*type != "BPE") {
      Unsupported(d, path, *type, "supported: BPE");
      return;
    }
  }
  for (std::string_view key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json::value* v = Member(o, key);
    if (v != nullptr && !(v->is_string() && v->get_string().empty())) {
      d.Add(Join(path, key),
            fmt::format("unsupported {} (byte-level BPE does not use it)", json::serialize(*v)));
    }
  }
  if (const json::value* v = Member(o, "dropout");
      v != nullptr && !(v->is_number() && v->to_number<double>() == 0.0)) {
    d.Add(Join(path, "dropout"),
          fmt::format("unsupported {} (BPE dropout is random; Brix encodes deterministically)",
                      json::serialize(*v)));
  }
  bpe->ignore_merges = ReadBool(o, "ignore_merges", path, false, d);
  bpe->fuse_unk = ReadBool(o, "fuse_unk", path, false, d);
  const bool byte_fallback = ReadBool(o, "byte_fallback", path, false, d);

  // Vocabulary: spelling -> id, and raw bytes -> id where the byte alphabet can spell it.
  const json::value* vocab_value = Member(o, "vocab");
  const json::object* vocab = nullptr;
  if (vocab_value == nullptr) {
    d.Add(Join(path, "vocab"), "missing");
  } else {
    vocab = AsObject(*vocab_value, Join(path, "vocab"), d);
  }
  if (vocab != nullptr) {
    // Tables are indexed by id, so ids must be dense enough for their size to follow the file's.
    const size_t id_limit = MaxIdFor(vocab->size());
    model->spelling_ids.Reserve(vocab->size());
    bpe->byte_vocab.Reserve(vocab->size());
    for (const auto& [key, value] : *vocab) {
      // The path is built only for errors: this loop runs for every vocabulary entry.
      std::optional<uint32_t> id;
      if (value.is_int64() && value.get_int64() >= 0 && value.get_int64() <= INT32_MAX) {
        id = static_cast<uint32_t>(value.get_int64());
      } else {
        id = AsId(value, Join(Join(path, "vocab"), key), d);
      }
      if (!id) continue;
      if (*id > id_limit) {
        d.Add(Join(Join(path, "vocab"), key),
              fmt::format("id {} is far beyond the vocabulary's {} entries", *id, vocab->size()));
        continue;
      }
      if (*id >= model->tokens.size()) model->tokens.resize(*id + 1);
      TokenEntry& t = model->tokens[*id];
      t.present = true;
      t.spelling_offset = static_cast<uint32_t>(model->strings.size());
      t.spelling_length = static_cast<uint32_t>(key.size());
      model->strings.append(key);
      // A spelling outside the alphabet decodes to its own UTF-8, as tokenizers' ByteLevel
      // decoder does; BPE can never produce it.
      std::optional<std::string> bytes = CharsToBytes(key);
      if (bytes) {
        t.bytes_offset = static_cast<uint32_t>(model->strings.size());
        t.bytes_length = static_cast<uint32_t>(bytes->size());
        model->strings.append(*bytes);
        bpe->byte_vocab.Insert(*bytes, *id);
      } else {
        t.bytes_offset = t.spelling_offset;
        t.bytes_length = t.spelling_length;
      }
      model->spelling_ids.Insert(key, *id);
    }
  }

  // Merges: "left right" strings (tokenizers < 0.20) or [left, right] pairs.
  const std::string merges_path = Join(path, "merges");
  const json::value* merges_value = Member(o, "merges");
  const json::array* merges = nullptr;
  if (merges_value == nullptr) {
    d.Add(merges_path, "missing");
  } else {
    merges = AsArray(*merges_value, merges_path, d);
  }
  if (merges != nullptr && vocab != nullptr) {
    bpe->merges.Reserve(merges->size());
    std::string merged;
    for (size_t rank = 0; rank < merges->size(); ++rank) {
      const json::value& m = (*merges)[rank];
      std::string_view left;
      std::string_view right;
      if (m.is_string()) {
        const std::string_view line = m.get_string();
        const size_t space = line.find(' ');
        if (space == std::string_view::npos ||
            line.find(' ', space + 1) != std::string_view::npos) {
          d.Add(At(merges_path, rank), fmt::format("expected \"left right\", got \"{}\"", line));
          continue;
        }
        left = line.substr(0, space);
        right = line.substr(space + 1);
      } else if (m.is_array() && m.get_array().size() == 2 && m.get_array()[0].is_string() &&
                 m.get_array()[1].is_string()) {
        left = m.get_array()[0].get_string();
        right = m.get_array()[1].get_string();
      } else {
        Expected(d, At(merges_path, rank), "a string or a pair of strings", m);
        continue;
      }
      merged.assign(left).append(right);
      const std::optional<uint32_t> left_id = model->spelling_ids.Find(left);
      const std::optional<uint32_t> right_id = model->spelling_ids.Find(right);
      const std::optional<uint32_t> merged_id = model->spelling_ids.Find(merged);
      if (!left_id || !right_id || !merged_id) {
        d.Add(At(merges_path, rank),
              fmt::format("'{}' is not in the vocabulary", !left_id    ? left
                                                           : !right_id ? right
                                                                       : std::string_view(merged)));
        continue;
      }
      // A repeated pair keeps its last rank, as in tokenizers (a HashMap built in order).
      bpe->merges.Insert(*left_id, *right_id, (static_cast<uint64_t>(rank) << 32) | *merged_id);
    }
  }

  // Unknown token, and what to emit for bytes without a single-byte token.
  if (const json::value* unk = Member(o, "unk_token")) {
    if (std::optional<std::string_view> name = AsString(*unk, Join(path, "unk_token"), d)) {
      bpe->unk_id = model->spelling_ids.Find(*name);
      if (!bpe->unk_id) {
        d.Add(Join(path, "unk_token"), fmt::format("'{}' is not in the vocabulary", *name));
      }
    }
  }
  for (int b = 0; b < 256; ++b) {
    const std::string spelling = BytesToChars(std::string(1, static_cast<char>(b)));
    bpe->byte_ids[b] = model->spelling_ids.Find(spelling);
    if (bpe->byte_ids[b]) continue;
    BpeModel::UnknownByte& unknown = bpe->unknown_bytes[b];
    if (byte_fallback) {
      // tokenizers falls back to the <0xHH> tokens of the UTF-8 bytes of the symbol's text,
      // which for byte-level models is the alphabet character.
      std::vector<uint32_t> ids;
      for (char c : spelling) {
        std::optional<uint32_t> id =
            model->spelling_ids.Find(fmt::format("<0x{:02X}>", static_cast<unsigned char>(c)));
        if (!id) break;
        ids.push_back(*id);
      }
      if (ids.size() == spelling.size()) {
        unknown.fallback_ids = std::move(ids);
        continue;
      }
    }
    unknown.is_unk = bpe->unk_id.has_value();
  }
}

// ---- decoder ----------------------------------------------------------------------------------

void ParseDecoder(const json::object& root, Diagnostics& d) {
  const json::value* v = Member(root, "decoder");
  if (v == nullptr) {
    d.Add("decoder", "missing (byte-level BPE needs a ByteLevel decoder)");
    return;
  }
  const json::object* o = AsObject(*v, "decoder", d);
  if (o == nullptr) return;
  std::optional<std::string_view> type = TypeOf(*o, "decoder", d);
  if (type && *type != "ByteLevel") Unsupported(d, "decoder", *type, "supported: ByteLevel");
}

// ---- tokenizer_config.json --------------------------------------------------------------------

// bos_token and friends: a string, or an AddedToken object with "content".
std::optional<std::string> ReadTokenName(const json::object& o, std::string_view key,
                                         Diagnostics& d) {
  const json::value* v = Member(o, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_object()) {
    const json::value* content = Member(v->get_object(), "content");
    if (content != nullptr && content->is_string()) return std::string(content->get_string());
  }
  Expected(d, key, "a string or an object with a string 'content'", *v);
  return std::nullopt;
}

void ParseConfig(const json::object& o, const Model& model, Diagnostics& d,
                 TokenizerMetadata* meta) {
  const auto id_of = [&](const std::optional<std::string>& name) -> std::optional<TokenId> {
    return name ? model.spelling_ids.Find(*name) : std::nullopt;
  };
  meta->bos_token = ReadTokenName(o, "bos_token", d);
  meta->bos_token_id = id_of(meta->bos_token);
  meta->eos_token = ReadTokenName(o, "eos_token", d);
  meta->eos_token_id = id_of(meta->eos_token);
  meta->pad_token = ReadTokenName(o, "pad_token", d);
  meta->pad_token_id = id_of(meta->pad_token);
  meta->clean_up_tokenization_spaces = ReadBool(o, "clean_up_tokenization_spaces", "", false, d);

  if (const json::value* v = Member(o, "chat_template")) {
    if (v->is_string()) {
      meta->chat_template = std::string(v->get_string());
    } else if (v->is_array()) {
      // A list of {name, template}: the one named "default", else the first.
      for (const json::value& item : v->get_array()) {
        const json::object* io = item.if_object();
        const json::value* name = io != nullptr ? Member(*io, "name") : nullptr;
        const json::value* text = io != nullptr ? Member(*io, "template") : nullptr;
        if (name == nullptr || text == nullptr || !name->is_string() || !text->is_string()) {
          d.Add("chat_template", "expected a list of {\"name\", \"template\"} strings");
          break;
        }
        if (!meta->chat_template || name->get_string() == "default") {
          meta->chat_template = std::string(text->get_string());
        }
      }
    } else {
      Expected(d, "chat_template", "a string or a list of named templates", *v);
    }
  }

  if (const json::value* v = Member(o, "model_max_length")) {
    if (v->is_uint64()) {
      meta->model_max_length = v->get_uint64();
    } else if (v->is_int64() && v->get_int64() >= 0) {
      meta->model_max_length = static_cast<uint64_t>(v->get_int64());
    } else if (v->is_double() && v->get_double() >= 0 && v->get_double() < 0x1p64) {
      meta->model_max_length = static_cast<uint64_t>(v->get_double());
    } else if (!v->is_double() || v->get_double() < 0) {
      Expected(d, "model_max_length", "a non-negative number", *v);
    }
    // Larger values (transformers writes 1e30 for "no limit") mean unbounded.
  }
}

}  // namespace

Result<std::unique_ptr<Model>> LoadModel(std::string_view tokenizer_json,
                                         std::string_view config_json) {
  // The parsed documents are only needed while loading: a monotonic arena frees them at once.
  json::monotonic_resource arena;
  Result<json::value> doc = ParseDocument(tokenizer_json, "tokenizer.json", &arena);
  if (!doc) return doc.error();
  std::optional<json::value> config_doc;
  if (!config_json.empty()) {
    Result<json::value> c = ParseDocument(config_json, "tokenizer_config.json", &arena);
    if (!c) return c.error();
    config_doc.emplace(std::move(*c));
  }

  Diagnostics d;
  d.set_file("tokenizer.json");
  const json::object* root = AsObject(*doc, "", d);
  if (root == nullptr) return d.ToError();

  auto model = std::make_unique<Model>();
  BpeModel::Parts bpe;
  if (const json::value* m = Member(*root, "model"); m == nullptr) {
    d.Add("model", "missing");
  } else if (const json::object* mo = AsObject(*m, "model", d)) {
    ParseBpe(*mo, d, model.get(), &bpe);
  }

  if (const json::value* n = Member(*root, "normalizer")) {
    ParseNormalizer(*n, "normalizer", d, &model->normalizers);
  }

  PreTokenizerSpec pre;
  if (const json::value* p = Member(*root, "pre_tokenizer"); p == nullptr) {
    d.Add("pre_tokenizer", "missing (byte-level BPE needs a ByteLevel pre-tokenizer)");
  } else {
    const size_t before = d.count();
    ParsePreTokenizer(*p, "pre_tokenizer", d, &pre);
    if (!pre.byte_level && d.count() == before) {
      d.Add("pre_tokenizer", "no ByteLevel step (byte-level BPE needs one)");
    }
  }

  TemplateSpec post;
  if (const json::value* p = Member(*root, "post_processor")) {
    ParsePostProcessor(*p, "post_processor", d, &post);
  }
  ParseDecoder(*root, d);

  // Added tokens: they override model entries with the same spelling or id.
  std::vector<AddedTokenMatcher::Pattern> raw_patterns;
  std::vector<AddedTokenMatcher::Pattern> normalized_patterns;
  std::vector<AddedTokenSpec> added = ParseAddedTokens(*root, d);
  const size_t added_id_limit = MaxIdFor(model->tokens.size() + added.size());
  for (AddedTokenSpec& t : added) {
    if (t.id > added_id_limit) {
      d.Add("added_tokens",
            fmt::format("id {} of '{}' is far beyond the vocabulary's size", t.id, t.content));
      continue;
    }
    if (t.id >= model->tokens.size()) model->tokens.resize(t.id + 1);
    TokenEntry& e = model->tokens[t.id];
    e.present = true;
    e.added = true;
    e.special = t.special;
    e.spelling_offset = e.bytes_offset = static_cast<uint32_t>(model->strings.size());
    e.spelling_length = e.bytes_length = static_cast<uint32_t>(t.content.size());
    model->strings.append(t.content);
    model->spelling_ids.Insert(t.content, t.id);
    AddedTokenMatcher::Pattern p{t.content, t.id, t.single_word, t.lstrip, t.rstrip};
    if (t.normalized) {
      // Matched against normalized text, so by its normalized content.
      std::string current = std::move(p.text);
      for (NormalizationForm form : model->normalizers) {
        std::string next;
        if (Normalize(form, current, &next)) current = std::move(next);
      }
      p.text = std::move(current);
      normalized_patterns.push_back(std::move(p));
    } else {
      raw_patterns.push_back(std::move(p));
    }
  }
  for (const std::vector<uint32_t>* ids : {&post.prefix, &post.suffix}) {
    for (uint32_t id : *ids) {
      if (id >= model->tokens.size() || !model->tokens[id].present) {
        d.Add("post_processor", fmt::format("template token id {} is not in the vocabulary", id));
      }
    }
  }

  if (config_doc) {
    d.set_file("tokenizer_config.json");
    if (const json::object* co = AsObject(*config_doc, "", d)) {
      ParseConfig(*co, *model, d, &model->metadata);
    }
  }
  if (!d.ok()) return d.ToError();

  model->raw_added = AddedTokenMatcher(std::move(raw_patterns));
  model->normalized_added = AddedTokenMatcher(std::move(normalized_patterns));
  model->pre_tokenizer = PreTokenizer(std::move(pre.splits), std::move(*pre.byte_level));
  model->bpe = BpeModel(std::move(bpe));
  model->template_prefix = std::move(post.prefix);
  model->template_suffix = std::move(post.suffix);
  return model;
}

}  // namespace brix::tokenizer::internal
