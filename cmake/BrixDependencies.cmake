# All dependencies are Debian bookworm packages; scripts/install-deps installs them.
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG COMPONENTS json url)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(CURL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# The brix binary allocates through mimalloc (src/cmd): the gateway's request path makes many
# short-lived allocations, several over glibc's per-thread cache size (coroutine frames), and
# measured 16% fewer instructions per proxied request with it (docs/benchmarks.md). Not with
# sanitizers or libFuzzer, which bring their own allocator.
if(NOT BRIX_SANITIZE AND NOT BRIX_FUZZ)
  find_package(mimalloc 2.0 REQUIRED CONFIG)
endif()
if(BRIX_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(BRIX_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()

# Asio: coroutines, no deprecated APIs, and one translation unit per target is enough to pick up
# the separately compiled parts we do not use.
add_compile_definitions(BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
# Where assertions are on (no NDEBUG), BOOST_ASSERT goes to base/boost_assert.cc, which skips one
# assertion known to be wrong in Beast 1.81; release builds compile them out as before.
add_compile_definitions(BOOST_ENABLE_ASSERT_DEBUG_HANDLER)
