#include "base/json.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

namespace brix {
namespace {

namespace json = boost::json;
using boost::system::error_code;

// The handler boost::json::parser uses (boost/json/detail/handler.hpp) with one change: a double
// is converted again from its text with std::from_chars, which rounds correctly.
class ExactHandler {
 public:
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  json::value_stack stack;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(size_t n, error_code&) {
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(size_t n, error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, size_t, error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, size_t, error_code&) {
    stack.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, size_t, error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, size_t, error_code&) {
    stack.push_string(s);
    return true;
  }
  // A number split across input buffers arrives in parts; the last part comes with its value.
  bool on_number_part(json::string_view s, error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(int64_t i, json::string_view, error_code&) {
    number_.clear();
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, error_code&) {
    number_.clear();
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view s, error_code& ec) {
    number_.append(s.data(), s.size());
    double exact = 0;
    const char* const last = number_.data() + number_.size();
    const auto [end, err] = std::from_chars(number_.data(), last, exact);
    if (err == std::errc() && end == last) d = exact;
    number_.clear();
    // Beyond a double's range Boost answers infinity and would write it back as `Infinity`, which
    // no JSON reader takes: refuse the number. (A number too small keeps Boost's 0 or subnormal.)
    if (!std::isfinite(d)) {
      ec = json::error::exponent_overflow;
      return false;
    }
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, error_code&) { return true; }
  bool on_comment(json::string_view, error_code&) { return true; }

 private:
  std::string number_;
};

}  // namespace

json::value ParseJsonExact(std::string_view text, error_code& ec,
                           const json::parse_options& options) {
  json::basic_parser<ExactHandler> parser(options);
  parser.handler().stack.reset();
  const size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec) return nullptr;
  if (used < text.size()) {
    ec = json::error::extra_data;
    return nullptr;
  }
  return parser.handler().stack.release();
}

}  // namespace brix
