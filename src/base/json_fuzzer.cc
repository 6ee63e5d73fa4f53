// Differential fuzzing of ParseJsonExact against boost::json::parse: both accept and refuse the
// same texts (but for numbers beyond a double's range, which only Boost takes) and build the same
// document, except that a double may differ in its last digits (Boost's reader is not exact); what
// ParseJsonExact builds is written and read back unchanged.
#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "base/json.h"

namespace {

namespace json = boost::json;

// `a` from Boost, `b` from ParseJsonExact. Boost's reader is a few ulps off at worst (more with
// long digit strings and subnormals), and reads 0e999 as NaN (0 x infinity) where the number is 0.
bool Close(double a, double b) {
  if (std::isnan(a)) return b == 0;
  const double scale = std::max(std::fabs(a), std::fabs(b));
  return a == b || std::fabs(a - b) <= 1e-13 * scale || scale < 1e-300;
}

// Same shape and values; doubles Close() when `exact` is false, equal when it is true.
bool Same(const json::value& a, const json::value& b, bool exact) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::double_:
      return exact ? a.get_double() == b.get_double() : Close(a.get_double(), b.get_double());
    case json::kind::array: {
      const json::array& x = a.get_array();
      const json::array& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!Same(x[i], y[i], exact)) return false;
      }
      return true;
    }
    case json::kind::object: {
      const json::object& x = a.get_object();
      const json::object& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
        if (i->key() != j->key() || !Same(i->value(), j->value(), exact)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  boost::system::error_code boost_ec;
  boost::system::error_code exact_ec;
  const json::value boost_value = json::parse(text, boost_ec);
  const json::value exact_value = brix::ParseJsonExact(text, exact_ec);
  // The one difference in what is accepted: a number beyond a double's range, which Boost reads
  // as infinity.
  BRIX_CHECK(!boost_ec == !exact_ec || (!boost_ec && exact_ec == json::error::exponent_overflow))
      << boost_ec.message() << " / " << exact_ec.message();
  if (exact_ec) return 0;
  BRIX_CHECK(Same(boost_value, exact_value, false)) << text;
  const std::string written = json::serialize(exact_value);
  boost::system::error_code again_ec;
  const json::value again = brix::ParseJsonExact(written, again_ec);
  BRIX_CHECK(!again_ec && Same(exact_value, again, true)) << written;
  return 0;
}
