// JSON and Python text helpers shared by the openai component (not included from outside).
//
//  - AppendJsonString: a JSON string literal as pydantic-core and Python's json.dumps(
//    ensure_ascii=False) write it: UTF-8 kept, `"` `\` and control characters escaped (\n \r \t
//    \b \f, else \u00XX lowercase), '/' not escaped. Invalid UTF-8 becomes U+FFFD so the output is
//    always valid JSON.
//  - AppendPyRepr / PyFloatRepr: Python's repr() of a parsed JSON value (dict/list/str/int/float/
//    bool/None), which vLLM's validation messages embed.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace brix::openai::internal {

void AppendJsonString(std::string_view text, std::string* out);
void AppendInt(int64_t value, std::string* out);

// Python repr() of `text` as a str: single quotes unless it contains ' and no ", escapes for \\,
// the quote, \n \r \t, other C0/DEL as \xNN; printable non-ASCII kept.
void AppendPyStr(std::string_view text, std::string* out);
// Python repr() of a float: shortest round-trip digits, "1.0", "1e-07", "1e+16", "inf", "nan".
std::string PyFloatRepr(double value);
// Python repr() of the value json.loads would produce for `value`.
void AppendPyRepr(const boost::json::value& value, std::string* out);

}  // namespace brix::openai::internal
