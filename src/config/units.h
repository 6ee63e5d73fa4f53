// Parsing of the human units used in config files: durations ("250ms") and sizes ("4MiB").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace brix::config {

// Parses a duration: a non-negative decimal number followed by a unit, one of ns, us, ms, s, m,
// h (e.g. "250ms", "1.5s", "2m", "1h30m" is NOT accepted: one number, one unit). "0" alone is
// accepted. The result is rounded to the nearest nanosecond; at most ~292 years.
Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);

// Parses a size in bytes: a non-negative integer or decimal followed by an optional unit:
// B, KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024); "4MiB" = 4194304,
// "1.5KiB" = 1536. A bare integer is bytes. Fractional bytes are rejected.
Result<uint64_t> ParseSize(std::string_view text);

// The shortest exact spelling of a duration in one unit ("250ms", "2s", "1500ms"); parses back
// with ParseDuration to the same value.
std::string FormatDuration(std::chrono::nanoseconds d);

}  // namespace brix::config
