// pydantic's lax-mode reading of a JSON value as an `int` or a `bool` field, shared by the request
// parsers (requests.cc) and the gateway's reading of a request's output cap and streaming flags
// (gateway.cc), so both read `"max_tokens": 100.0`, `"100"` or `"stream": "yes"` as vLLM does
// (not included from outside the openai component).
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

namespace brix::openai::internal {

// Why a value is not an int, named as pydantic's error types.
enum class LaxIntError {
  kNone,
  kType,      // int_type: null, an array, an object
  kFraction,  // int_from_float: a number with a fractional part, or not finite
  kParsing,   // int_parsing: a string that is not an integer
};

// The value of `v` as pydantic's lax mode reads an int: integers (beyond int64 saturating),
// booleans as 0/1, whole doubles, strings of an integer with surrounding spaces or tabs and an
// optional sign. Nullopt with `*error` set otherwise (`error` may be null).
std::optional<int64_t> LaxInt(const boost::json::value& v, LaxIntError* error);

// Why a value is not a bool, named as pydantic's error types.
enum class LaxBoolError {
  kNone,
  kType,     // bool_type: null, an array, an object
  kParsing,  // bool_parsing: a number other than 0 and 1, a string not in the lists below
};

// A number as a lax bool: 0 and 1 (also 0.0 and 1.0); nullopt otherwise.
std::optional<bool> LaxBoolFromNumber(double d);
// A string as a lax bool, case-insensitively: "1", "on", "t", "true", "y", "yes" and "0", "off",
// "f", "false", "n", "no"; nullopt otherwise.
std::optional<bool> LaxBoolFromString(std::string_view s);
// The value of `v` as pydantic's lax mode reads a bool: booleans, and numbers and strings as
// above. Nullopt with `*error` set otherwise (`error` may be null).
std::optional<bool> LaxBool(const boost::json::value& v, LaxBoolError* error);

}  // namespace brix::openai::internal
