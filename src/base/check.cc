#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace brix::base::internal {

CheckFailure::CheckFailure(std::string_view condition, const char* file, int line) {
  stream_ << file << ":" << line << ": check failed: " << condition << " ";
}

CheckFailure::~CheckFailure() {
  std::string text = stream_.str();
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace brix::base::internal
