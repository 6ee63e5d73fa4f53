#include "workload/trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

namespace brix::workload {

namespace {

struct Row {
  double arrival_s = 0;
  Session session;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Sorts by arrival (stable), shifts the earliest to 0 and numbers the sessions.
Workload Finish(std::vector<Row> rows, std::string description) {
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.arrival_s < b.arrival_s; });
  Workload workload;
  workload.description = std::move(description);
  const double origin = rows.empty() ? 0 : rows.front().arrival_s;
  workload.sessions.reserve(rows.size());
  for (Row& row : rows) {
    row.session.id = workload.sessions.size();
    row.session.start_s = row.arrival_s - origin;
    workload.sessions.push_back(std::move(row.session));
  }
  return workload;
}

Error LineError(std::string_view source, size_t line, std::string_view message) {
  return InvalidArgument(fmt::format("{}:{}: {}", source, line, message));
}

// An integer in [min, kMaxTraceTokens] from a JSON number (a double must be integral).
Result<int64_t> JsonTokens(const boost::json::value* v, std::string_view field, int64_t min) {
  auto bad = [&](std::string got) {
    return InvalidArgument(fmt::format("{}: expected an integer in [{}, {}], got {}", field, min,
                                       kMaxTraceTokens, got));
  };
  if (v == nullptr) return InvalidArgument(fmt::format("{}: missing", field));
  int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64()) {
    return bad(std::to_string(v->get_uint64()));
  } else if (v->is_double()) {
    const double d = v->get_double();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 1e15) {
      return bad(fmt::format("{}", d));
    }
    n = static_cast<int64_t>(d);
  } else {
    return bad(std::string(v->is_string() ? "a string" : "a non-number"));
  }
  if (n < min || n > kMaxTraceTokens) return bad(std::to_string(n));
  return n;
}

// Builds a turn: blocks that fit input_tokens, then unique text for anything beyond them.
Turn MooncakeTurn(const std::vector<uint64_t>& hash_ids, int64_t input_tokens,
                  int64_t output_tokens, uint64_t unique_id) {
  Turn turn;
  turn.output_tokens = std::max<int64_t>(output_tokens, 1);
  int64_t left = input_tokens;
  for (uint64_t id : hash_ids) {
    if (left <= 0) break;
    const int64_t take = std::min(left, kMooncakeBlockTokens);
    turn.prompt.push_back({MakeKey(KeySpace::kTraceBlock, id), take});
    left -= take;
  }
  if (left > 0) turn.prompt.push_back({MakeKey(KeySpace::kUnique, unique_id), left});
  return turn;
}

// Seconds since 1970 of a proleptic Gregorian civil date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ParseUnsigned(std::string_view s, unsigned* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// "YYYY-MM-DD HH:MM:SS[.fraction][Z|+HH:MM|-HH:MM]" (also with 'T'), or plain seconds.
std::optional<double> ParseTimestamp(std::string_view s) {
  double seconds = 0;
  {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), seconds);
    if (ec == std::errc() && ptr == s.data() + s.size() && std::isfinite(seconds)) return seconds;
  }
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
      s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  unsigned year, month, day, hour, minute, second;
  if (!ParseUnsigned(s.substr(0, 4), &year) || !ParseUnsigned(s.substr(5, 2), &month) ||
      !ParseUnsigned(s.substr(8, 2), &day) || !ParseUnsigned(s.substr(11, 2), &hour) ||
      !ParseUnsigned(s.substr(14, 2), &minute) || !ParseUnsigned(s.substr(17, 2), &second) ||
      month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::string_view rest = s.substr(19);
  double fraction = 0;
  if (!rest.empty() && rest.front() == '.') {
    size_t digits = 1;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    if (digits == 1) return std::nullopt;
    double scale = 0.1;
    for (size_t i = 1; i < digits; ++i, scale /= 10) fraction += (rest[i] - '0') * scale;
    rest.remove_prefix(digits);
  }
  int64_t offset_s = 0;
  if (rest == "Z") {
    rest = {};
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    unsigned oh, om;
    if (!ParseUnsigned(rest.substr(1, 2), &oh) || !ParseUnsigned(rest.substr(4, 2), &om)) {
      return std::nullopt;
    }
    offset_s = (rest[0] == '+' ? 1 : -1) * static_cast<int64_t>(oh * 3600 + om * 60);
    rest = {};
  }
  if (!rest.empty()) return std::nullopt;
  const int64_t whole =
      DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  return static_cast<double>(whole) + fraction;
}

// Splits one CSV record (RFC 4180 quotes, no line breaks inside quotes).
std::vector<std::string> SplitCsv(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Result<int64_t> CsvTokens(std::string_view text, std::string_view column, int64_t min) {
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || n < min ||
      n > kMaxTraceTokens) {
    return InvalidArgument(fmt::format("{}: expected an integer in [{}, {}], got '{}'", column, min,
                                       kMaxTraceTokens, text));
  }
  return n;
}

}  // namespace

Result<TraceFormat> ParseTraceFormat(std::string_view name) {
  if (name == "mooncake") return TraceFormat::kMooncake;
  if (name == "azure") return TraceFormat::kAzure;
  return InvalidArgument(
      fmt::format("unknown trace format '{}' (expected mooncake or azure)", name));
}

Result<Workload> ReadMooncakeTrace(std::istream& in, std::string_view source) {
  std::vector<Row> rows;
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (Trim(line).empty()) continue;
    boost::system::error_code ec;
    boost::json::value doc = boost::json::parse(line, ec);
    if (ec) return LineError(source, line_number, "not a JSON object: " + ec.message());
    const boost::json::object* object = doc.if_object();
    if (object == nullptr) return LineError(source, line_number, "not a JSON object");

    const boost::json::value* timestamp = object->if_contains("timestamp");
    if (timestamp == nullptr || !timestamp->is_number()) {
      return LineError(source, line_number, "timestamp: expected a number of milliseconds");
    }
    const double ms = timestamp->to_number<double>();
    if (!std::isfinite(ms) || ms < 0) {
      return LineError(source, line_number,
                       fmt::format("timestamp: expected a number >= 0, got {}", ms));
    }
    Result<int64_t> input = JsonTokens(object->if_contains("input_length"), "input_length", 1);
    if (!input) return LineError(source, line_number, input.error().message);
    Result<int64_t> output = JsonTokens(object->if_contains("output_length"), "output_length", 0);
    if (!output) return LineError(source, line_number, output.error().message);

    std::vector<uint64_t> hash_ids;
    if (const boost::json::value* ids = object->if_contains("hash_ids")) {
      const boost::json::array* array = ids->if_array();
      if (array == nullptr) return LineError(source, line_number, "hash_ids: expected an array");
      if (static_cast<int64_t>(array->size()) > kMaxTraceTokens / kMooncakeBlockTokens + 1) {
        return LineError(source, line_number, "hash_ids: too many blocks");
      }
      for (size_t i = 0; i < array->size(); ++i) {
        const boost::json::value& id = (*array)[i];
        if (id.is_int64() && id.get_int64() >= 0) {
          hash_ids.push_back(static_cast<uint64_t>(id.get_int64()));
        } else if (id.is_uint64()) {
          hash_ids.push_back(id.get_uint64());
        } else {
          return LineError(source, line_number,
                           fmt::format("hash_ids[{}]: expected an integer >= 0", i));
        }
      }
    }
    Row row;
    row.arrival_s = ms / 1000.0;
    row.session.turns.push_back(MooncakeTurn(hash_ids, *input, *output, rows.size()));
    rows.push_back(std::move(row));
  }
  if (in.bad()) return InvalidArgument(fmt::format("{}: read error", source));
  std::string description = fmt::format("mooncake trace {} ({} requests)", source, rows.size());
  return Finish(std::move(rows), std::move(description));
}

Result<Workload> ReadAzureTrace(std::istream& in, std::string_view source) {
  std::string line;
  size_t line_number = 0;
  // The header: the first non-blank line.
  int timestamp_col = -1, context_col = -1, generated_col = -1;
  while (std::getline(in, line)) {
    ++line_number;
    if (Trim(line).empty()) continue;
    std::vector<std::string> names = SplitCsv(line);
    for (size_t i = 0; i < names.size(); ++i) {
      std::string_view name = Trim(names[i]);
      if (i == 0 && name.starts_with("\xEF\xBB\xBF")) name.remove_prefix(3);  // UTF-8 BOM
      if (EqualsIgnoreCase(name, "TIMESTAMP")) timestamp_col = static_cast<int>(i);
      if (EqualsIgnoreCase(name, "ContextTokens")) context_col = static_cast<int>(i);
      if (EqualsIgnoreCase(name, "GeneratedTokens")) generated_col = static_cast<int>(i);
    }
    break;
  }
  if (timestamp_col < 0 || context_col < 0 || generated_col < 0) {
    return LineError(source, std::max<size_t>(line_number, 1),
                     "header: expected the columns TIMESTAMP, ContextTokens, GeneratedTokens");
  }
  const size_t needed = static_cast<size_t>(std::max({timestamp_col, context_col, generated_col}));
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    ++line_number;
    if (Trim(line).empty()) continue;
    std::vector<std::string> fields = SplitCsv(line);
    if (fields.size() <= needed) {
      return LineError(
          source, line_number,
          fmt::format("expected at least {} columns, got {}", needed + 1, fields.size()));
    }
    const std::string_view stamp = Trim(fields[timestamp_col]);
    std::optional<double> seconds = ParseTimestamp(stamp);
    if (!seconds) {
      return LineError(source, line_number,
                       fmt::format("TIMESTAMP: expected 'YYYY-MM-DD HH:MM:SS.fff' or seconds, "
                                   "got '{}'",
                                   stamp));
    }
    Result<int64_t> context = CsvTokens(Trim(fields[context_col]), "ContextTokens", 1);
    if (!context) return LineError(source, line_number, context.error().message);
    Result<int64_t> generated = CsvTokens(Trim(fields[generated_col]), "GeneratedTokens", 0);
    if (!generated) return LineError(source, line_number, generated.error().message);
    Row row;
    row.arrival_s = *seconds;
    Turn turn;
    turn.prompt.push_back({MakeKey(KeySpace::kUnique, rows.size()), *context});
    turn.output_tokens = std::max<int64_t>(*generated, 1);
    row.session.turns.push_back(std::move(turn));
    rows.push_back(std::move(row));
  }
  if (in.bad()) return InvalidArgument(fmt::format("{}: read error", source));
  std::string description = fmt::format("azure trace {} ({} requests)", source, rows.size());
  return Finish(std::move(rows), std::move(description));
}

Result<Workload> LoadTrace(const std::filesystem::path& path, std::optional<TraceFormat> format) {
  if (!format) {
    const std::string ext = path.extension().string();
    if (ext == ".jsonl" || ext == ".json") {
      format = TraceFormat::kMooncake;
    } else if (ext == ".csv") {
      format = TraceFormat::kAzure;
    } else {
      return InvalidArgument(fmt::format(
          "{}: cannot tell the trace format from the extension; name it (mooncake or azure)",
          path.string()));
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(fmt::format("{}: cannot open the trace file", path.string()));
  const std::string source = path.string();
  return *format == TraceFormat::kMooncake ? ReadMooncakeTrace(in, source)
                                           : ReadAzureTrace(in, source);
}

}  // namespace brix::workload
