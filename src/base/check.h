// BRIX_CHECK: an always-on assertion for programming errors (never for bad input).
//
//   BRIX_CHECK(index < size) << "index " << index;
//
// On failure it prints the condition, the location and the streamed message, then aborts.
#pragma once

#include <sstream>
#include <string_view>

namespace brix::base::internal {

// Collects the streamed message and aborts in its destructor. Only BRIX_CHECK creates one.
class CheckFailure {
 public:
  CheckFailure(std::string_view condition, const char* file, int line);
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure();

  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Lets the ternary in BRIX_CHECK have type void on both sides.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace brix::base::internal

#define BRIX_CHECK(condition)                       \
  (condition) ? static_cast<void>(0)                \
              : ::brix::base::internal::Voidify() & \
                    ::brix::base::internal::CheckFailure(#condition, __FILE__, __LINE__).stream()

#define BRIX_UNREACHABLE() BRIX_CHECK(false) << "unreachable"
