// Logging set-up: spdlog with one named logger per component.
//
//   auto log = brix::base::Logger("gateway");
//   log->info("listening on {}", addr);
//
// `info` is for lifecycle events only; per-request detail goes to `debug`. Thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"

namespace brix::base {

struct LogOptions {
  // Minimum level: trace, debug, info, warn, error, critical, off.
  std::string level = "info";
  // "text" for people, "json" for one JSON object per line (log shippers).
  std::string format = "text";
};

// Applies `options` to every existing and future logger. Returns InvalidArgument for an unknown
// level or format and changes nothing then.
Result<void> InitLogging(const LogOptions& options);

// The logger named `component`, created on first use (writes to stderr).
std::shared_ptr<spdlog::logger> Logger(std::string_view component);

}  // namespace brix::base
