#include "base/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace brix::base {
namespace {

// The JSON pattern escapes nothing in the message; messages are ours and avoid quotes by
// convention, and the access log (which carries client data) builds its JSON itself.
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v";
constexpr const char* kJsonPattern =
    R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","msg":"%v"})";

std::mutex& Mutex() {
  static auto* m = new std::mutex();
  return *m;
}

spdlog::level::level_enum& CurrentLevel() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}

std::string& CurrentPattern() {
  static auto* p = new std::string(kTextPattern);
  return *p;
}

}  // namespace

Result<void> InitLogging(const LogOptions& options) {
  auto level = spdlog::level::from_str(options.level);
  // from_str maps anything unknown to "off"; only accept "off" when it was asked for.
  if (level == spdlog::level::off && options.level != "off") {
    return InvalidArgument("unknown log level '" + options.level +
                           "' (want trace, debug, info, warn, error, critical or off)");
  }
  std::string pattern;
  if (options.format == "text") {
    pattern = kTextPattern;
  } else if (options.format == "json") {
    pattern = kJsonPattern;
  } else {
    return InvalidArgument("unknown log format '" + options.format + "' (want text or json)");
  }
  std::lock_guard lock(Mutex());
  CurrentLevel() = level;
  CurrentPattern() = pattern;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
    l->set_level(level);
    l->set_pattern(pattern, options.format == "json" ? spdlog::pattern_time_type::utc
                                                     : spdlog::pattern_time_type::local);
  });
  return {};
}

std::shared_ptr<spdlog::logger> Logger(std::string_view component) {
  std::string name(component);
  std::lock_guard lock(Mutex());
  if (auto existing = spdlog::get(name)) return existing;
  auto logger =
      std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(CurrentLevel());
  logger->set_pattern(CurrentPattern());
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace brix::base
