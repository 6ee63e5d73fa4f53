#include "config/units.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <limits>
#include <utility>

namespace brix::config {
namespace {

struct Number {
  double value = 0;
  bool fractional = false;
  std::string_view unit;
};

// Splits "12.5ms" into 12.5 and "ms". Accepts digits with at most one '.', and no sign or
// exponent: config values are written by people, and "1e3s" is more likely a typo than intent.
Result<Number> SplitNumber(std::string_view text, std::string_view what) {
  auto trimmed = text;
  while (!trimmed.empty() && trimmed.front() == ' ') trimmed.remove_prefix(1);
  while (!trimmed.empty() && trimmed.back() == ' ') trimmed.remove_suffix(1);
  size_t i = 0;
  bool seen_dot = false;
  bool seen_digit = false;
  double integer = 0;
  double fraction = 0;
  double scale = 1;
  for (; i < trimmed.size(); ++i) {
    char c = trimmed[i];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      if (seen_dot) {
        scale /= 10;
        fraction += (c - '0') * scale;
      } else {
        integer = integer * 10 + (c - '0');
      }
    } else if (c == '.' && !seen_dot) {
      seen_dot = true;
    } else {
      break;
    }
  }
  if (!seen_digit) {
    return InvalidArgument(
        fmt::format("invalid {} '{}': expected a number followed by a unit", what, text));
  }
  Number n;
  n.value = integer + fraction;
  n.fractional = fraction != 0;
  n.unit = trimmed.substr(i);
  return n;
}

}  // namespace

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  auto number = SplitNumber(text, "duration");
  if (!number) return number.error();
  static constexpr std::array<std::pair<std::string_view, double>, 6> kUnits = {{
      {"ns", 1.0},
      {"us", 1e3},
      {"ms", 1e6},
      {"s", 1e9},
      {"m", 60e9},
      {"h", 3600e9},
  }};
  double ns_per_unit = 0;
  if (number->unit.empty()) {
    if (number->value != 0) {
      return InvalidArgument(fmt::format(
          "invalid duration '{}': missing unit (ns, us, ms, s, m or h), e.g. '250ms'", text));
    }
    return std::chrono::nanoseconds(0);
  }
  for (const auto& [name, factor] : kUnits) {
    if (number->unit == name) ns_per_unit = factor;
  }
  if (ns_per_unit == 0) {
    return InvalidArgument(
        fmt::format("invalid duration '{}': unknown unit '{}' (want ns, us, ms, s, m or h)", text,
                    number->unit));
  }
  double ns = std::round(number->value * ns_per_unit);
  if (!(ns < static_cast<double>(std::numeric_limits<int64_t>::max()))) {
    return InvalidArgument(fmt::format("invalid duration '{}': too large", text));
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(ns));
}

Result<uint64_t> ParseSize(std::string_view text) {
  auto number = SplitNumber(text, "size");
  if (!number) return number.error();
  static constexpr std::array<std::pair<std::string_view, double>, 9> kUnits = {{
      {"", 1.0},
      {"B", 1.0},
      {"KB", 1e3},
      {"MB", 1e6},
      {"GB", 1e9},
      {"TB", 1e12},
      {"KiB", 1024.0},
      {"MiB", 1024.0 * 1024},
      {"GiB", 1024.0 * 1024 * 1024},
  }};
  double factor = 0;
  for (const auto& [name, f] : kUnits) {
    if (number->unit == name) factor = f;
  }
  if (number->unit == "TiB") factor = 1024.0 * 1024 * 1024 * 1024;
  if (factor == 0) {
    return InvalidArgument(fmt::format(
        "invalid size '{}': unknown unit '{}' (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", text,
        number->unit));
  }
  double bytes = number->value * factor;
  if (bytes != std::floor(bytes)) {
    return InvalidArgument(fmt::format("invalid size '{}': not a whole number of bytes", text));
  }
  // 2^63 is exactly representable; anything at or above it does not fit comfortably.
  if (!(bytes < 9223372036854775808.0)) {
    return InvalidArgument(fmt::format("invalid size '{}': too large", text));
  }
  return static_cast<uint64_t>(bytes);
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  using namespace std::chrono_literals;
  auto ns = d.count();
  if (ns == 0) return "0s";
  struct Unit {
    int64_t ns;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {3600'000'000'000, "h"}, {60'000'000'000, "m"}, {1'000'000'000, "s"},
      {1'000'000, "ms"},       {1'000, "us"},         {1, "ns"},
  };
  for (const auto& u : kUnits) {
    if (ns % u.ns == 0) return fmt::format("{}{}", ns / u.ns, u.name);
  }
  return fmt::format("{}ns", ns);
}

}  // namespace brix::config
