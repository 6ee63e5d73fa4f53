#include "config/reader.h"

#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "base/check.h"
#include "config/units.h"

namespace brix::config {
namespace {

// YAML marks are 0-based, and -1 for nodes that did not come from the text.
int OneBased(int v) { return v >= 0 ? v + 1 : 0; }

std::string_view KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// YAML::Node converts implicitly from almost anything, Error included, so the error side of a
// Result<YAML::Node> must be named explicitly.
Result<YAML::Node> YamlError(Error e) { return {boost::system::in_place_error, std::move(e)}; }

}  // namespace

void Diagnostics::Add(std::string path, const YAML::Mark& mark, std::string message) {
  errors_.push_back(
      {std::move(path), OneBased(mark.line), OneBased(mark.column), std::move(message)});
}

std::string Diagnostics::ToString() const {
  std::string out;
  for (const auto& e : errors_) {
    if (!out.empty()) out += '\n';
    out += source_;
    if (e.line > 0) out += fmt::format(":{}:{}", e.line, e.column);
    out += ": ";
    if (!e.path.empty()) out += e.path + ": ";
    out += e.message;
  }
  return out;
}

Error Diagnostics::ToError() const { return InvalidArgument(ToString()); }

Result<YAML::Node> ParseYaml(std::string_view text, std::string_view source) {
  // yaml-cpp reports errors by throwing; this is the one place that catches them.
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return YamlError(
        InvalidArgument(fmt::format("{}:{}:{}: invalid YAML: {}", source, OneBased(e.mark.line),
                                    OneBased(e.mark.column), e.msg)));
  } catch (const std::exception& e) {
    return YamlError(InvalidArgument(fmt::format("{}: invalid YAML: {}", source, e.what())));
  }
}

Result<YAML::Node> LoadYamlFile(const std::string& path, uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return YamlError(NotFound(fmt::format("cannot open config file '{}'", path)));
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      return YamlError(InvalidArgument(
          fmt::format("config file '{}' is larger than {} bytes", path, max_bytes)));
    }
  }
  if (in.bad()) return YamlError(Unavailable(fmt::format("error reading config file '{}'", path)));
  return ParseYaml(text, path);
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

MapReader::MapReader(const YAML::Node& node, std::string path, Diagnostics* diag)
    : path_(std::move(path)), diag_(diag), mark_(node.Mark()) {
  BRIX_CHECK(diag_ != nullptr);
  if (node.IsNull() || !node.IsDefined()) return;
  if (!node.IsMap()) {
    diag_->Add(path_, mark_, fmt::format("expected a mapping, got {}", KindName(node)));
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies: yaml-cpp's iterator hands out a temporary pair, so references would dangle.
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!k.IsScalar()) {
      diag_->Add(path_, k.Mark(), "mapping keys must be strings");
      continue;
    }
    const std::string& key = k.Scalar();
    bool duplicate = false;
    for (const auto& e : entries_) duplicate = duplicate || e.key == key;
    if (duplicate) {
      diag_->Add(JoinPath(path_, key), k.Mark(), "duplicate key");
      continue;
    }
    entries_.push_back({key, v, k.Mark(), false});
  }
}

MapReader::~MapReader() {
  BRIX_CHECK(finished_) << "MapReader for '" << path_ << "' destroyed without Finish()";
}

MapReader::Entry* MapReader::Find(std::string_view key) {
  for (auto& e : entries_) {
    if (e.key == key) {
      e.used = true;
      return &e;
    }
  }
  return nullptr;
}

bool MapReader::Has(std::string_view key) const {
  for (const auto& e : entries_) {
    if (e.key == key) return true;
  }
  return false;
}

void MapReader::Require(std::string_view key) {
  if (!Has(key)) diag_->Add(JoinPath(path_, key), mark_, "required field is missing");
}

void MapReader::Report(const Entry& e, std::string message) {
  // Point at the value when it has a position, else at the key.
  YAML::Mark mark = e.value.Mark().line >= 0 ? e.value.Mark() : e.mark;
  diag_->Add(JoinPath(path_, e.key), mark, std::move(message));
}

void MapReader::Fail(std::string_view key, std::string message) {
  if (key.empty()) {
    diag_->Add(path_, mark_, std::move(message));
    return;
  }
  for (const auto& e : entries_) {
    if (e.key == key) {
      Report(e, std::move(message));
      return;
    }
  }
  diag_->Add(JoinPath(path_, key), mark_, std::move(message));
}

bool MapReader::Scalar(Entry* e, std::string_view what, std::string* out) {
  if (!e->value.IsScalar()) {
    Report(*e, fmt::format("expected {}, got {}", what, KindName(e->value)));
    return false;
  }
  *out = e->value.Scalar();
  return true;
}

void MapReader::Read(std::string_view key, std::string* out) {
  Entry* e = Find(key);
  if (e == nullptr) return;
  std::string text;
  if (Scalar(e, "a string", &text)) *out = std::move(text);
}

void MapReader::Read(std::string_view key, bool* out) {
  Entry* e = Find(key);
  if (e == nullptr) return;
  std::string text;
  if (!Scalar(e, "true or false", &text)) return;
  if (text == "true" || text == "True" || text == "TRUE") {
    *out = true;
  } else if (text == "false" || text == "False" || text == "FALSE") {
    *out = false;
  } else {
    Report(*e, fmt::format("expected true or false, got '{}'", text));
  }
}

void MapReader::Read(std::string_view key, double* out, double min, double max) {
  Entry* e = Find(key);
  if (e == nullptr) return;
  std::string text;
  if (!Scalar(e, "a number", &text)) return;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value != value) {
    Report(*e, fmt::format("expected a number, got '{}'", text));
    return;
  }
  if (value < min || value > max) {
    Report(*e, fmt::format("must be between {} and {}, got {}", min, max, text));
    return;
  }
  *out = value;
}

bool MapReader::ReadInteger(std::string_view key, int64_t* out, int64_t min, int64_t max) {
  Entry* e = Find(key);
  if (e == nullptr) return false;
  std::string text;
  if (!Scalar(e, "an integer", &text)) return false;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    Report(*e, fmt::format("must be between {} and {}, got {}", min, max, text));
    return false;
  }
  if (ec != std::errc() || end != text.data() + text.size()) {
    Report(*e, fmt::format("expected an integer, got '{}'", text));
    return false;
  }
  if (value < min || value > max) {
    Report(*e, fmt::format("must be between {} and {}, got {}", min, max, text));
    return false;
  }
  *out = value;
  return true;
}

bool MapReader::ReadDurationNs(std::string_view key, std::chrono::nanoseconds* out,
                               std::chrono::nanoseconds min, std::chrono::nanoseconds max) {
  Entry* e = Find(key);
  if (e == nullptr) return false;
  std::string text;
  if (!Scalar(e, "a duration such as '250ms'", &text)) return false;
  auto d = ParseDuration(text);
  if (!d) {
    Report(*e, d.error().message);
    return false;
  }
  if (*d < min || *d > max) {
    Report(*e, max == std::chrono::nanoseconds::max()
                   ? fmt::format("must be at least {}, got {}", FormatDuration(min), text)
                   : fmt::format("must be between {} and {}, got {}", FormatDuration(min),
                                 FormatDuration(max), text));
    return false;
  }
  *out = *d;
  return true;
}

void MapReader::ReadSize(std::string_view key, uint64_t* out, uint64_t min, uint64_t max) {
  Entry* e = Find(key);
  if (e == nullptr) return;
  std::string text;
  if (!Scalar(e, "a size such as '4MiB'", &text)) return;
  auto size = ParseSize(text);
  if (!size) {
    Report(*e, size.error().message);
    return;
  }
  if (*size < min || *size > max) {
    Report(*e, fmt::format("must be between {} and {} bytes, got {}", min, max, text));
    return;
  }
  *out = *size;
}

void MapReader::ReadEnum(std::string_view key, std::string* out,
                         std::initializer_list<std::string_view> allowed) {
  Entry* e = Find(key);
  if (e == nullptr) return;
  std::string text;
  if (!Scalar(e, "a string", &text)) return;
  for (auto a : allowed) {
    if (text == a) {
      *out = std::move(text);
      return;
    }
  }
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  Report(*e, fmt::format("must be one of [{}], got '{}'", list, text));
}

void MapReader::Read(std::string_view key, std::vector<std::string>* out) {
  Entry* e = Find(key);
  if (e == nullptr) return;
  if (!e->value.IsSequence()) {
    Report(*e, fmt::format("expected a sequence of strings, got {}", KindName(e->value)));
    return;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < e->value.size(); ++i) {
    const YAML::Node item = e->value[i];
    if (!item.IsScalar()) {
      diag_->Add(fmt::format("{}[{}]", JoinPath(path_, e->key), i), item.Mark(),
                 fmt::format("expected a string, got {}", KindName(item)));
      ok = false;
      continue;
    }
    values.push_back(item.Scalar());
  }
  if (ok) *out = std::move(values);
}

void MapReader::ReadMap(std::string_view key, const std::function<void(MapReader&)>& fn) {
  Entry* e = Find(key);
  if (e == nullptr) return;
  MapReader child(e->value, JoinPath(path_, e->key), diag_);
  fn(child);
  BRIX_CHECK(child.finished_) << "ReadMap callback for '" << child.path_
                              << "' did not call Finish()";
}

void MapReader::ReadSequence(std::string_view key,
                             const std::function<void(const YAML::Node&, const std::string&)>& fn) {
  Entry* e = Find(key);
  if (e == nullptr) return;
  if (e->value.IsNull()) return;
  if (!e->value.IsSequence()) {
    Report(*e, fmt::format("expected a sequence, got {}", KindName(e->value)));
    return;
  }
  for (size_t i = 0; i < e->value.size(); ++i) {
    fn(e->value[i], fmt::format("{}[{}]", JoinPath(path_, e->key), i));
  }
}

void MapReader::Finish() {
  BRIX_CHECK(!finished_) << "Finish() called twice for '" << path_ << "'";
  finished_ = true;
  for (const auto& e : entries_) {
    if (!e.used) diag_->Add(JoinPath(path_, e.key), e.mark, "unknown field");
  }
}

}  // namespace brix::config
