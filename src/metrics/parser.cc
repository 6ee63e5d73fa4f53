#include "metrics/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>

namespace brix::metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// How a family's samples are named, from the word on its TYPE line. Finer than MetricType
// because OpenMetrics words map onto 0.0.4 types but keep their own suffixes.
enum class Shape { kCounter, kGauge, kHistogram, kGaugeHistogram, kSummary, kUntyped, kInfo };

struct TypeWord {
  std::string_view word;
  Shape shape;
  MetricType type;
};

constexpr TypeWord kTypeWords[] = {
    {"counter", Shape::kCounter, MetricType::kCounter},
    {"gauge", Shape::kGauge, MetricType::kGauge},
    {"histogram", Shape::kHistogram, MetricType::kHistogram},
    {"summary", Shape::kSummary, MetricType::kSummary},
    {"untyped", Shape::kUntyped, MetricType::kUntyped},
    // OpenMetrics 1.0.
    {"unknown", Shape::kUntyped, MetricType::kUntyped},
    {"gaugehistogram", Shape::kGaugeHistogram, MetricType::kHistogram},
    {"info", Shape::kInfo, MetricType::kGauge},
    {"stateset", Shape::kGauge, MetricType::kGauge},
};

// Every suffix RoleFor() accepts, for finding the family of a sample that is not next to it.
constexpr std::string_view kSuffixes[] = {"_bucket",  "_sum",  "_count",  "_total",
                                          "_created", "_gsum", "_gcount", "_info"};

// The role of sample `family name + suffix` in a family of `shape`, if it can belong to it.
std::optional<SampleRole> RoleFor(Shape shape, std::string_view suffix) {
  switch (shape) {
    case Shape::kCounter:
      // "x_total" declared as "x_total" (0.0.4) or as "x" (OpenMetrics).
      if (suffix.empty() || suffix == "_total") return SampleRole::kValue;
      if (suffix == "_created") return SampleRole::kCreated;
      break;
    case Shape::kGauge:
    case Shape::kUntyped:
      if (suffix.empty()) return SampleRole::kValue;
      break;
    case Shape::kInfo:
      if (suffix == "_info") return SampleRole::kValue;
      break;
    case Shape::kHistogram:
    case Shape::kGaugeHistogram: {
      const bool gauge = shape == Shape::kGaugeHistogram;
      if (suffix == "_bucket") return SampleRole::kBucket;
      if (suffix == (gauge ? "_gsum" : "_sum")) return SampleRole::kSum;
      if (suffix == (gauge ? "_gcount" : "_count")) return SampleRole::kCount;
      if (suffix == "_created") return SampleRole::kCreated;
      break;
    }
    case Shape::kSummary:
      if (suffix.empty()) return SampleRole::kValue;
      if (suffix == "_sum") return SampleRole::kSum;
      if (suffix == "_count") return SampleRole::kCount;
      if (suffix == "_created") return SampleRole::kCreated;
      break;
  }
  return std::nullopt;
}

constexpr bool IsBlank(char c) { return c == ' ' || c == '\t'; }
constexpr bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool IsDigit(char c) { return c >= '0' && c <= '9'; }
constexpr bool IsMetricNameStart(char c) { return IsLetter(c) || c == '_' || c == ':'; }
constexpr bool IsMetricNameChar(char c) { return IsMetricNameStart(c) || IsDigit(c); }
constexpr bool IsLabelNameStart(char c) { return IsLetter(c) || c == '_'; }
constexpr bool IsLabelNameChar(char c) { return IsLabelNameStart(c) || IsDigit(c); }

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// `s` for an error message: at most 40 bytes, with non-printable bytes as \xNN, so that a
// hostile page cannot put control characters into our logs.
std::string Printable(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

// Go's strconv.ParseFloat as far as Prometheus pages need it: decimal and exponent forms, an
// optional sign, "NaN" and "Inf"/"Infinity" in any case. The whole of `s` must be the number.
std::optional<double> ParseFloat(std::string_view s) {
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) return std::nullopt;
  }
  if (s.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> ParseInt64(std::string_view s) {
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s[0] == '-') return std::nullopt;
  }
  if (s.empty()) return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// True if every matcher is among `labels`.
bool Matches(std::span<const LabelPair> labels, std::span<const LabelPair> matchers) {
  return std::all_of(matchers.begin(), matchers.end(), [&](const LabelPair& m) {
    return std::find(labels.begin(), labels.end(), m) != labels.end();
  });
}

}  // namespace

namespace internal {

// Builds one ParsedPage from one input, line by line. Single use; one thread.
class PageBuilder {
 public:
  PageBuilder(std::string_view text, const ParseLimits& limits) : text_(text), limits_(limits) {}

  Result<ParsedPage> Build();

 private:
  // Outcome of one line.
  enum class Status {
    kOk,
    kError,  // the line is skipped; error_ says why
    kFatal,  // a limit was exceeded; error_ says which
    kEof,    // "# EOF"
  };

  struct FamilyState {
    std::string_view name;
    Shape shape = Shape::kUntyped;
    MetricType type = MetricType::kUntyped;
    bool typed = false;
    bool has_help = false;
    std::string_view help;
    size_t sample_count = 0;
  };

  // A sample before it is grouped with its family's other samples.
  struct PendingSample {
    size_t family;
    std::string_view name;
    SampleRole role;
    size_t label_begin;
    size_t label_count;
    double value;
    std::optional<int64_t> timestamp_ms;
  };

  static constexpr size_t kNoFamily = std::numeric_limits<size_t>::max();

  Status ParseLine(char* begin, char* end);
  Status ParseComment(char* p, char* end);
  Status ParseSample(char* p, char* end);
  // Parses the label pairs after '{' up to and including '}', appending them to labels_.
  Status ParseLabels(char*& p, char* end, size_t label_begin);
  Status CheckDistinctLabelNames(size_t label_begin);
  Status ApplyHelp(std::string_view name, std::string_view help);
  Status ApplyType(std::string_view name, const TypeWord& type);
  // Sets `family` and `role` for a sample called `name`, creating an untyped family if none fits.
  Status ResolveFamily(std::string_view name, size_t& family, SampleRole& role);
  Status FindOrCreateFamily(std::string_view name, size_t& family);
  void AddLineError(size_t line, std::string message);
  ParsedPage Finish();

  Status Fail(std::string message) {
    error_ = std::move(message);
    return Status::kError;
  }
  Status Fatal(std::string message) {
    error_ = std::move(message);
    return Status::kFatal;
  }

  const std::string_view text_;
  const ParseLimits& limits_;
  ParsedPage page_;
  std::vector<FamilyState> families_;
  std::map<std::string_view, size_t, std::less<>> families_by_name_;
  size_t current_family_ = kNoFamily;  // the family of the last HELP, TYPE or sample line
  std::vector<LabelPair> labels_;
  std::vector<PendingSample> samples_;
  std::vector<std::string_view> scratch_names_;
  std::string error_;
};

Result<ParsedPage> PageBuilder::Build() {
  if (text_.size() > limits_.max_bytes) {
    return ResourceExhausted(
        fmt::format("page is {} bytes, over the limit of {}", text_.size(), limits_.max_bytes));
  }
  // A private copy that label values and HELP texts are unescaped into: unescaping only ever
  // shortens a token, so it fits where the token was, and the views need no other storage.
  page_.text_ = std::make_unique_for_overwrite<char[]>(text_.size());
  if (!text_.empty()) std::memcpy(page_.text_.get(), text_.data(), text_.size());

  char* p = page_.text_.get();
  char* const end = p + text_.size();
  if (text_.starts_with("\xEF\xBB\xBF")) p += 3;  // UTF-8 byte order mark
  bool eof = false;
  for (size_t line = 1; p < end; ++line) {
    char* eol = static_cast<char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (eol == nullptr) eol = end;
    char* const next = eol == end ? end : eol + 1;
    if (static_cast<size_t>(eol - p) > limits_.max_line_length) {
      return ResourceExhausted(fmt::format("line {}: {} bytes, over the limit of {}", line, eol - p,
                                           limits_.max_line_length));
    }
    while (eol > p && (eol[-1] == '\r' || IsBlank(eol[-1]))) --eol;
    while (p < eol && IsBlank(*p)) ++p;
    if (p == eol) {
      p = next;
      continue;
    }
    if (eof) {
      AddLineError(line, "unexpected content after \"# EOF\"");
      break;
    }
    switch (ParseLine(p, eol)) {
      case Status::kOk:
        break;
      case Status::kError:
        AddLineError(line, std::move(error_));
        break;
      case Status::kFatal:
        return ResourceExhausted(fmt::format("line {}: {}", line, error_));
      case Status::kEof:
        eof = true;
        break;
    }
    p = next;
  }

  if (samples_.empty() && page_.error_count_ > 0) {
    return InvalidArgument(
        fmt::format("no sample could be parsed; first error: {}", page_.errors_[0].ToString()));
  }
  return Finish();
}

PageBuilder::Status PageBuilder::ParseLine(char* begin, char* end) {
  return *begin == '#' ? ParseComment(begin + 1, end) : ParseSample(begin, end);
}

PageBuilder::Status PageBuilder::ParseComment(char* p, char* end) {
  while (p < end && IsBlank(*p)) ++p;
  const char* keyword_begin = p;
  while (p < end && !IsBlank(*p)) ++p;
  const std::string_view keyword(keyword_begin, static_cast<size_t>(p - keyword_begin));
  while (p < end && IsBlank(*p)) ++p;
  if (keyword == "EOF" && p == end) return Status::kEof;
  const bool help = keyword == "HELP";
  if (!help && keyword != "TYPE") return Status::kOk;  // an ordinary comment

  const char* name_begin = p;
  while (p < end && IsMetricNameChar(*p)) ++p;
  const std::string_view name(name_begin, static_cast<size_t>(p - name_begin));
  if (name.empty() || !IsMetricNameStart(name[0])) {
    return Fail(fmt::format("expected metric name after {}", keyword));
  }
  if (p < end && !IsBlank(*p)) {
    return Fail(fmt::format("invalid character '{}' in metric name", Printable({p, 1})));
  }
  while (p < end && IsBlank(*p)) ++p;

  if (help) {
    // Unescape in place: `\\` and `\n`; any other backslash stays as written.
    char* out = p;
    const char* help_begin = p;
    while (p < end) {
      if (*p == '\\' && p + 1 < end && (p[1] == '\\' || p[1] == 'n')) {
        *out++ = p[1] == 'n' ? '\n' : '\\';
        p += 2;
      } else {
        *out++ = *p++;
      }
    }
    return ApplyHelp(name, std::string_view(help_begin, static_cast<size_t>(out - help_begin)));
  }

  const char* type_begin = p;
  while (p < end && !IsBlank(*p)) ++p;
  const std::string_view word(type_begin, static_cast<size_t>(p - type_begin));
  while (p < end && IsBlank(*p)) ++p;
  if (word.empty()) return Fail("expected metric type after metric name");
  if (p != end) return Fail("unexpected text after metric type");
  for (const TypeWord& type : kTypeWords) {
    if (EqualsIgnoringAsciiCase(word, type.word)) return ApplyType(name, type);
  }
  return Fail(fmt::format("unknown metric type '{}'", Printable(word)));
}

PageBuilder::Status PageBuilder::ParseSample(char* p, char* end) {
  if (!IsMetricNameStart(*p)) {
    if (*p == '{') return Fail("quoted metric names are not supported");
    return Fail(fmt::format("expected metric name, found '{}'", Printable({p, 1})));
  }
  const char* name_begin = p;
  while (p < end && IsMetricNameChar(*p)) ++p;
  const std::string_view name(name_begin, static_cast<size_t>(p - name_begin));
  const char* after_name = p;
  while (p < end && IsBlank(*p)) ++p;

  const size_t label_begin = labels_.size();
  if (p < end && *p == '{') {
    ++p;
    if (Status s = ParseLabels(p, end, label_begin); s != Status::kOk) {
      labels_.resize(label_begin);
      return s;
    }
    while (p < end && IsBlank(*p)) ++p;
  } else if (p == after_name && p < end) {
    return Fail(fmt::format("invalid character '{}' in metric name", Printable({p, 1})));
  }
  const size_t label_count = labels_.size() - label_begin;
  // From here on a failure must drop the labels this line added.
  const auto fail = [&](std::string message) {
    labels_.resize(label_begin);
    return Fail(std::move(message));
  };

  if (p == end) return fail("expected sample value");
  const char* value_begin = p;
  while (p < end && !IsBlank(*p)) ++p;
  const std::string_view value_text(value_begin, static_cast<size_t>(p - value_begin));
  const std::optional<double> value = ParseFloat(value_text);
  if (!value) return fail(fmt::format("invalid sample value '{}'", Printable(value_text)));
  while (p < end && IsBlank(*p)) ++p;

  std::optional<int64_t> timestamp_ms;
  if (p < end && *p != '#') {
    const char* timestamp_begin = p;
    while (p < end && !IsBlank(*p)) ++p;
    const std::string_view timestamp_text(timestamp_begin,
                                          static_cast<size_t>(p - timestamp_begin));
    timestamp_ms = ParseInt64(timestamp_text);
    if (!timestamp_ms) {
      return fail(fmt::format("invalid timestamp '{}'", Printable(timestamp_text)));
    }
    while (p < end && IsBlank(*p)) ++p;
  }
  // What is left is either nothing or an OpenMetrics exemplar (" # {...} value"), not kept.
  if (p < end && *p != '#') {
    return fail(fmt::format("unexpected text after timestamp: '{}'",
                            Printable({p, static_cast<size_t>(end - p)})));
  }

  size_t family = kNoFamily;
  SampleRole role = SampleRole::kValue;
  if (Status s = ResolveFamily(name, family, role); s != Status::kOk) {
    labels_.resize(label_begin);
    return s;
  }
  if (samples_.size() >= limits_.max_samples) {
    return Fatal(fmt::format("more than {} samples", limits_.max_samples));
  }
  samples_.push_back(
      PendingSample{family, name, role, label_begin, label_count, *value, timestamp_ms});
  ++families_[family].sample_count;
  current_family_ = family;
  return Status::kOk;
}

PageBuilder::Status PageBuilder::ParseLabels(char*& p, char* end, size_t label_begin) {
  while (p < end && IsBlank(*p)) ++p;
  if (p < end && *p == '}') {
    ++p;
    return Status::kOk;
  }
  while (true) {
    if (p == end) return Fail("expected label name or '}'");
    if (!IsLabelNameStart(*p)) {
      if (*p == '"') return Fail("quoted label names are not supported");
      return Fail(fmt::format("expected label name, found '{}'", Printable({p, 1})));
    }
    const char* name_begin = p;
    while (p < end && IsLabelNameChar(*p)) ++p;
    const std::string_view name(name_begin, static_cast<size_t>(p - name_begin));
    while (p < end && IsBlank(*p)) ++p;
    if (p == end || *p != '=') return Fail("expected '=' after label name");
    ++p;
    while (p < end && IsBlank(*p)) ++p;
    if (p == end || *p != '"') return Fail("expected '\"' to start the label value");
    ++p;

    // Unescape in place; `out` never passes `p`.
    char* out = p;
    const char* value_begin = p;
    bool closed = false;
    while (p < end) {
      if (*p == '"') {
        closed = true;
        ++p;
        break;
      }
      if (*p == '\\' && p + 1 < end) {
        const char escaped = p[1];
        if (escaped == 'n') {
          *out++ = '\n';
        } else if (escaped == '\\' || escaped == '"') {
          *out++ = escaped;
        } else {
          *out++ = '\\';
          *out++ = escaped;
        }
        p += 2;
      } else {
        *out++ = *p++;
      }
    }
    if (!closed) return Fail(fmt::format("unterminated value of label '{}'", name));
    if (labels_.size() - label_begin >= limits_.max_label_pairs) {
      return Fatal(fmt::format("sample has more than {} label pairs", limits_.max_label_pairs));
    }
    labels_.push_back(
        LabelPair{name, std::string_view(value_begin, static_cast<size_t>(out - value_begin))});

    while (p < end && IsBlank(*p)) ++p;
    if (p < end && *p == ',') {
      ++p;
      while (p < end && IsBlank(*p)) ++p;
      if (p < end && *p == '}') break;  // a trailing comma
      continue;
    }
    if (p < end && *p == '}') break;
    return Fail("expected ',' or '}' after label value");
  }
  ++p;  // the '}'
  return CheckDistinctLabelNames(label_begin);
}

PageBuilder::Status PageBuilder::CheckDistinctLabelNames(size_t label_begin) {
  const size_t count = labels_.size() - label_begin;
  std::optional<std::string_view> duplicate;
  if (count <= 8) {
    for (size_t i = label_begin + 1; i < labels_.size() && !duplicate; ++i) {
      for (size_t j = label_begin; j < i; ++j) {
        if (labels_[i].name == labels_[j].name) {
          duplicate = labels_[i].name;
          break;
        }
      }
    }
  } else {
    // Sorting keeps lines with many labels O(k log k) rather than O(k^2).
    scratch_names_.clear();
    for (size_t i = label_begin; i < labels_.size(); ++i) scratch_names_.push_back(labels_[i].name);
    std::sort(scratch_names_.begin(), scratch_names_.end());
    auto it = std::adjacent_find(scratch_names_.begin(), scratch_names_.end());
    if (it != scratch_names_.end()) duplicate = *it;
  }
  if (duplicate) return Fail(fmt::format("duplicate label name '{}'", *duplicate));
  return Status::kOk;
}

PageBuilder::Status PageBuilder::ApplyHelp(std::string_view name, std::string_view help) {
  size_t index = kNoFamily;
  if (Status s = FindOrCreateFamily(name, index); s != Status::kOk) return s;
  FamilyState& family = families_[index];
  if (family.has_help) return Fail(fmt::format("second HELP line for '{}'", name));
  family.has_help = true;
  family.help = help;
  current_family_ = index;
  return Status::kOk;
}

PageBuilder::Status PageBuilder::ApplyType(std::string_view name, const TypeWord& type) {
  size_t index = kNoFamily;
  if (Status s = FindOrCreateFamily(name, index); s != Status::kOk) return s;
  FamilyState& family = families_[index];
  if (family.typed) return Fail(fmt::format("second TYPE line for '{}'", name));
  if (family.sample_count > 0)
    return Fail(fmt::format("TYPE line for '{}' after its samples", name));
  family.typed = true;
  family.shape = type.shape;
  family.type = type.type;
  current_family_ = index;
  return Status::kOk;
}

PageBuilder::Status PageBuilder::ResolveFamily(std::string_view name, size_t& family,
                                               SampleRole& role) {
  // Usually the sample belongs to the family of the line before.
  if (current_family_ != kNoFamily) {
    const FamilyState& current = families_[current_family_];
    if (name.starts_with(current.name)) {
      if (auto r = RoleFor(current.shape, name.substr(current.name.size()))) {
        family = current_family_;
        role = *r;
        return Status::kOk;
      }
    }
  }
  if (auto it = families_by_name_.find(name); it != families_by_name_.end()) {
    const FamilyState& named = families_[it->second];
    auto r = RoleFor(named.shape, "");
    if (!r) return Fail(fmt::format("sample '{}' lacks the suffix its family's type needs", name));
    family = it->second;
    role = *r;
    return Status::kOk;
  }
  for (std::string_view suffix : kSuffixes) {
    if (!name.ends_with(suffix)) continue;
    auto it = families_by_name_.find(name.substr(0, name.size() - suffix.size()));
    if (it == families_by_name_.end()) continue;
    if (auto r = RoleFor(families_[it->second].shape, suffix)) {
      family = it->second;
      role = *r;
      return Status::kOk;
    }
  }
  role = SampleRole::kValue;
  return FindOrCreateFamily(name, family);
}

PageBuilder::Status PageBuilder::FindOrCreateFamily(std::string_view name, size_t& family) {
  auto [it, inserted] = families_by_name_.try_emplace(name, families_.size());
  if (inserted) {
    if (families_.size() >= limits_.max_families) {
      families_by_name_.erase(it);
      return Fatal(fmt::format("more than {} metric families", limits_.max_families));
    }
    families_.push_back(FamilyState{.name = name});
  }
  family = it->second;
  return Status::kOk;
}

void PageBuilder::AddLineError(size_t line, std::string message) {
  ++page_.error_count_;
  if (page_.errors_.size() < limits_.max_errors) {
    page_.errors_.push_back(LineError{line, std::move(message)});
  }
}

ParsedPage PageBuilder::Finish() {
  // Group samples by family with a counting sort, keeping page order within each family.
  std::vector<size_t> next(families_.size() + 1, 0);
  for (const PendingSample& s : samples_) ++next[s.family + 1];
  for (size_t i = 1; i < next.size(); ++i) next[i] += next[i - 1];
  // next[f] is now where family f's samples begin; keep those offsets for the families.
  const std::vector<size_t> begin(next.begin(), next.end() - 1);

  page_.labels_ = std::move(labels_);
  page_.samples_.resize(samples_.size());
  for (const PendingSample& s : samples_) {
    ParsedSample& out = page_.samples_[next[s.family]++];
    out.name = s.name;
    out.role = s.role;
    out.labels = std::span<const LabelPair>(page_.labels_.data() + s.label_begin, s.label_count);
    out.value = s.value;
    out.timestamp_ms = s.timestamp_ms;
  }

  page_.families_.resize(families_.size());
  for (size_t i = 0; i < families_.size(); ++i) {
    ParsedFamily& out = page_.families_[i];
    out.name_ = families_[i].name;
    out.type_ = families_[i].type;
    out.help_ = families_[i].help;
    out.samples_ =
        std::span<const ParsedSample>(page_.samples_.data() + begin[i], families_[i].sample_count);
  }
  page_.index_.assign(families_by_name_.begin(), families_by_name_.end());
  return std::move(page_);
}

}  // namespace internal

std::string LineError::ToString() const { return fmt::format("line {}: {}", line, message); }

std::optional<std::string_view> ParsedSample::LabelValue(std::string_view label_name) const {
  for (const LabelPair& label : labels) {
    if (label.name == label_name) return label.value;
  }
  return std::nullopt;
}

double HistogramData::Quantile(double q) const {
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  const size_t n = buckets.size();
  if (n < 2 || buckets.back().upper_bound != kInf) return kNaN;

  // Counts forced monotonic, as PromQL does: scrapes of separate series race.
  std::vector<double> counts(n);
  double running = 0;
  for (size_t i = 0; i < n; ++i) {
    const double c = buckets[i].cumulative_count;
    if (c > running) running = c;  // also skips NaN
    counts[i] = running;
  }
  const double observations = counts.back();
  if (observations <= 0) return kNaN;

  double rank = q * observations;
  const size_t b =
      static_cast<size_t>(std::lower_bound(counts.begin(), counts.end(), rank) - counts.begin());
  if (b == n - 1) return buckets[n - 2].upper_bound;
  if (b == 0 && buckets[0].upper_bound <= 0) return buckets[0].upper_bound;
  double bucket_start = 0;
  const double bucket_end = buckets[b].upper_bound;
  double count = counts[b];
  if (b > 0) {
    bucket_start = buckets[b - 1].upper_bound;
    count -= counts[b - 1];
    rank -= counts[b - 1];
  }
  if (count <= 0) return bucket_start;  // rank 0: the lower edge
  return bucket_start + (bucket_end - bucket_start) * (rank / count);
}

std::optional<double> ParsedFamily::Value(std::span<const LabelPair> labels) const {
  for (const ParsedSample& s : samples_) {
    if (s.role == SampleRole::kValue && s.labels.size() == labels.size() &&
        Matches(s.labels, labels)) {
      return s.value;
    }
  }
  return std::nullopt;
}

std::optional<double> ParsedFamily::Sum(std::span<const LabelPair> matchers) const {
  std::optional<double> sum;
  for (const ParsedSample& s : samples_) {
    if (s.role == SampleRole::kValue && Matches(s.labels, matchers))
      sum = sum.value_or(0) + s.value;
  }
  return sum;
}

std::optional<HistogramData> ParsedFamily::ReadHistogram(
    std::span<const LabelPair> matchers) const {
  HistogramData data;
  bool matched = false;
  for (const ParsedSample& s : samples_) {
    if (s.role != SampleRole::kBucket && s.role != SampleRole::kSum &&
        s.role != SampleRole::kCount) {
      continue;
    }
    if (!Matches(s.labels, matchers)) continue;
    if (s.role == SampleRole::kSum) {
      data.sum += s.value;
    } else if (s.role == SampleRole::kCount) {
      data.count += s.value;
    } else {
      const std::optional<std::string_view> le = s.LabelValue("le");
      const std::optional<double> bound = le ? ParseFloat(*le) : std::nullopt;
      if (!bound || std::isnan(*bound)) continue;
      data.buckets.push_back(HistogramBucket{*bound, s.value});
    }
    matched = true;
  }
  if (!matched) return std::nullopt;

  std::stable_sort(data.buckets.begin(), data.buckets.end(),
                   [](const HistogramBucket& a, const HistogramBucket& b) {
                     return a.upper_bound < b.upper_bound;
                   });
  std::vector<HistogramBucket> merged;
  for (const HistogramBucket& bucket : data.buckets) {
    if (!merged.empty() && merged.back().upper_bound == bucket.upper_bound) {
      merged.back().cumulative_count += bucket.cumulative_count;
    } else {
      merged.push_back(bucket);
    }
  }
  data.buckets = std::move(merged);
  return data;
}

const ParsedFamily* ParsedPage::FindExact(std::string_view name) const {
  auto it = std::lower_bound(index_.begin(), index_.end(), name,
                             [](const std::pair<std::string_view, size_t>& entry,
                                std::string_view n) { return entry.first < n; });
  if (it == index_.end() || it->first != name) return nullptr;
  return &families_[it->second];
}

const ParsedFamily* ParsedPage::Find(std::string_view name) const {
  if (const ParsedFamily* family = FindExact(name)) return family;
  constexpr std::string_view kTotal = "_total";
  const ParsedFamily* counter = nullptr;
  if (name.ends_with(kTotal)) {
    counter = FindExact(name.substr(0, name.size() - kTotal.size()));
  } else {
    counter = FindExact(std::string(name) + std::string(kTotal));
  }
  return counter != nullptr && counter->type() == MetricType::kCounter ? counter : nullptr;
}

Result<ParsedPage> ParseText(std::string_view text, const ParseLimits& limits) {
  return internal::PageBuilder(text, limits).Build();
}

}  // namespace brix::metrics
