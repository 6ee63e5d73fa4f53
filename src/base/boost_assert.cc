// Boost's assertion handler (BOOST_ENABLE_ASSERT_DEBUG_HANDLER is defined for every target, see
// cmake/BrixDependencies.cmake): a failed BOOST_ASSERT aborts with its location, as the default
// does, except for one assertion that is known to be wrong.
//
// Boost.Beast 1.81's chunked-body parser asserts `n >= 5` when it re-enters the final-chunk
// state with fewer bytes than that (a client sending "0\r\n" and the closing CRLF in separate
// reads, which the request fuzzer found). The code after the assertion handles that case and
// returns need_more; upstream fixed the assertion (boostorg/beast pull request #2861, Boost
// 1.86). Release builds compile assertions out and are not affected.
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (std::string_view(expr) == "n >= 5" &&
      std::string_view(file).ends_with("boost/beast/http/impl/basic_parser.ipp")) {
    return;
  }
  std::fprintf(stderr, "%s:%ld: %s: Boost assertion '%s' failed\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
  std::fprintf(stderr, "%s:%ld: %s: Boost assertion '%s' failed: %s\n", file, line, function, expr,
               msg);
  std::abort();
}

}  // namespace boost
