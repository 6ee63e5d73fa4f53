#include "metrics/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <vector>

#include "base/check.h"

namespace brix::metrics {
namespace {

// Appends `s` with backslash and newline escaped, and double quotes too if `quotes`: the
// escaping of label values (all three) and of HELP text (no quotes).
void AppendEscaped(std::string_view s, bool quotes, std::string& out) {
  const std::string_view special = quotes ? std::string_view("\\\n\"") : std::string_view("\\\n");
  size_t start = 0;
  while (true) {
    const size_t pos = s.find_first_of(special, start);
    if (pos == std::string_view::npos) break;
    out.append(s.substr(start, pos - start));
    out += '\\';
    out += s[pos] == '\n' ? 'n' : s[pos];
    start = pos + 1;
  }
  out.append(s.substr(start));
}

void AppendCount(uint64_t count, std::string& out) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), count);
  BRIX_CHECK(ec == std::errc()) << "uint64 does not fit in 24 characters";
  out.append(buffer, end);
}

// `{a="x",b="y"` (no closing brace), or "" for a series without labels.
void BuildOpenLabels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     std::string& out) {
  out.clear();
  BRIX_CHECK(names.size() == values.size())
      << names.size() << " label names but " << values.size() << " values";
  for (size_t i = 0; i < names.size(); ++i) {
    out += i == 0 ? '{' : ',';
    out += names[i];
    out += "=\"";
    AppendEscaped(values[i], true, out);
    out += '"';
  }
}

// Appends `name suffix {labels} ` up to the value.
void AppendSampleStart(std::string_view name, std::string_view suffix, std::string_view open_labels,
                       std::string& out) {
  out += name;
  out += suffix;
  if (!open_labels.empty()) {
    out += open_labels;
    out += '}';
  }
  out += ' ';
}

void AppendHistogramSeries(const FamilySnapshot& family, const FamilySnapshot::Series& series,
                           std::string_view open_labels, std::string& out) {
  const std::vector<uint64_t>& counts = series.cumulative_counts;
  BRIX_CHECK(counts.size() == family.bucket_bounds.size() + 1)
      << "histogram '" << family.name << "' has " << family.bucket_bounds.size() << " bounds but "
      << counts.size() << " cumulative counts";
  for (size_t i = 0; i < counts.size(); ++i) {
    out += family.name;
    out += "_bucket";
    out += open_labels.empty() ? std::string_view("{") : open_labels;
    out += open_labels.empty() ? "le=\"" : ",le=\"";
    if (i < family.bucket_bounds.size()) {
      AppendValue(family.bucket_bounds[i], out);
    } else {
      out += "+Inf";
    }
    out += "\"} ";
    AppendCount(counts[i], out);
    out += '\n';
  }
  AppendSampleStart(family.name, "_sum", open_labels, out);
  AppendValue(series.sum, out);
  out += '\n';
  AppendSampleStart(family.name, "_count", open_labels, out);
  AppendCount(counts.back(), out);
  out += '\n';
}

void AppendFamily(const FamilySnapshot& family, std::string& out) {
  if (family.series.empty()) return;
  if (!family.help.empty()) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    AppendEscaped(family.help, false, out);
    out += '\n';
  }
  out += "# TYPE ";
  out += family.name;
  out += ' ';
  out += MetricTypeName(family.type);
  out += '\n';

  std::string open_labels;
  for (const FamilySnapshot::Series& series : family.series) {
    BuildOpenLabels(family.label_names, series.label_values, open_labels);
    if (family.type == MetricType::kHistogram) {
      AppendHistogramSeries(family, series, open_labels, out);
    } else {
      AppendSampleStart(family.name, "", open_labels, out);
      AppendValue(series.value, out);
      out += '\n';
    }
  }
}

}  // namespace

void AppendValue(double value, std::string& out) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buffer[32];
  std::to_chars_result result;
  // Every whole number of magnitude below 1e15 fits an int64 exactly and reads best as one.
  if (std::fabs(value) < 1e15 && value == std::trunc(value)) {
    result = std::to_chars(buffer, buffer + sizeof(buffer), static_cast<int64_t>(value));
  } else {
    result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  }
  BRIX_CHECK(result.ec == std::errc()) << "a double does not fit in 32 characters";
  out.append(buffer, result.ptr);
}

std::string FormatValue(double value) {
  std::string out;
  AppendValue(value, out);
  return out;
}

void AppendText(std::span<const FamilySnapshot> families, std::string& out) {
  for (const FamilySnapshot& family : families) AppendFamily(family, out);
}

std::string RenderText(const Registry& registry) {
  const std::vector<FamilySnapshot> families = registry.Collect();
  std::string out;
  AppendText(families, out);
  return out;
}

}  // namespace brix::metrics
