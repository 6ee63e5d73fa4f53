// pydantic's lax-mode reading of a JSON value as an `int` field, shared by the request parsers
// (requests.cc) and the gateway's reading of a request's output cap (gateway.cc), so both read
// `"max_tokens": 100.0` or `"100"` as vLLM does (not included from outside the openai component).
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>

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

}  // namespace brix::openai::internal
