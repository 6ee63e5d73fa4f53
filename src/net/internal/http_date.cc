#include "net/internal/http_date.h"

#include <fmt/format.h>

#include <ctime>

namespace brix::net::internal {

std::string_view HttpDate() {
  // Day and month names are spelled out here because strftime's %a/%b follow the C locale.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct Cache {
    std::time_t second = -1;
    char text[40] = {};
    size_t size = 0;
  };
  thread_local Cache cache;
  const std::time_t now = std::time(nullptr);
  if (now != cache.second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    const auto result =
        fmt::format_to_n(cache.text, sizeof(cache.text) - 1,
                         "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday], tm.tm_mday,
                         kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cache.size = result.size;
    cache.second = now;
  }
  return std::string_view(cache.text, cache.size);
}

}  // namespace brix::net::internal
