#pragma once

#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <string_view>

namespace brix {

// Parses one JSON document as boost::json::parse does, except that every number with a fraction
// or an exponent is read to the nearest double. Boost.JSON 1.81 (Debian bookworm) reads decimals
// with a fast method that is one ulp off for about one in eight of the doubles it writes itself
// (its precise mode arrived in 1.83), so a value written and read back is not always the same
// value. Use this wherever that matters: stored objects, specs returned by an API. A number beyond
// a double's range (1e999) is refused with json::error::exponent_overflow, where Boost would give
// infinity and write it back as `Infinity`, which is not JSON. On failure `ec` is set and the
// result is null.
boost::json::value ParseJsonExact(std::string_view text, boost::system::error_code& ec,
                                  const boost::json::parse_options& options = {});

}  // namespace brix
