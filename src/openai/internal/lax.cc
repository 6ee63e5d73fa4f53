#include "openai/internal/lax.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>

namespace brix::openai::internal {
namespace {

int64_t Saturate(double d) {
  if (d >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
  if (d <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

}  // namespace

std::optional<int64_t> LaxInt(const boost::json::value& v, LaxIntError* error) {
  LaxIntError ignored;
  LaxIntError& why = error != nullptr ? *error : ignored;
  why = LaxIntError::kNone;
  switch (v.kind()) {
    case boost::json::kind::int64:
      return v.get_int64();
    case boost::json::kind::uint64:
      return std::numeric_limits<int64_t>::max();
    case boost::json::kind::bool_:
      return v.get_bool() ? 1 : 0;
    case boost::json::kind::double_: {
      const double d = v.get_double();
      if (std::isfinite(d) && d == std::floor(d)) return Saturate(d);
      why = LaxIntError::kFraction;
      return std::nullopt;
    }
    case boost::json::kind::string: {
      std::string_view s = v.get_string();
      while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
      while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
      if (!s.empty() && s.front() == '+') s.remove_prefix(1);
      int64_t out = 0;
      const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
      if (!s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size()) return out;
      why = LaxIntError::kParsing;
      return std::nullopt;
    }
    default:
      why = LaxIntError::kType;
      return std::nullopt;
  }
}

std::optional<bool> LaxBoolFromNumber(double d) {
  if (d == 0 || d == 1) return d == 1;
  return std::nullopt;
}

std::optional<bool> LaxBoolFromString(std::string_view s) {
  if (s.size() > 5) return std::nullopt;
  char lower[5];
  for (size_t i = 0; i < s.size(); ++i) {
    lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
  }
  const std::string_view l(lower, s.size());
  for (std::string_view t : {"1", "on", "t", "true", "y", "yes"}) {
    if (l == t) return true;
  }
  for (std::string_view f : {"0", "off", "f", "false", "n", "no"}) {
    if (l == f) return false;
  }
  return std::nullopt;
}

std::optional<bool> LaxBool(const boost::json::value& v, LaxBoolError* error) {
  LaxBoolError ignored;
  LaxBoolError& why = error != nullptr ? *error : ignored;
  why = LaxBoolError::kNone;
  std::optional<bool> out;
  switch (v.kind()) {
    case boost::json::kind::bool_:
      return v.get_bool();
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      out = LaxBoolFromNumber(v.to_number<double>());
      break;
    case boost::json::kind::string:
      out = LaxBoolFromString(v.get_string());
      break;
    default:
      why = LaxBoolError::kType;
      return std::nullopt;
  }
  if (!out) why = LaxBoolError::kParsing;
  return out;
}

}  // namespace brix::openai::internal
