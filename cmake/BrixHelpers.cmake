# brix_library(NAME SRCS ... DEPS ...)
#   A component library `brix_<NAME>` (alias brix::<NAME>). Includes are rooted at src/.
function(brix_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(brix_${name} STATIC ${ARG_SRCS})
  target_include_directories(brix_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src
                                                 ${PROJECT_BINARY_DIR}/generated)
  target_link_libraries(brix_${name} PUBLIC ${ARG_DEPS})
  add_library(brix::${name} ALIAS brix_${name})
endfunction()

# brix_test(NAME SRCS ... DEPS ... [FIXTURES ...])
#   One GoogleTest binary per component; each TEST becomes a ctest entry. FIXTURES names ctest
#   fixtures its tests need (e.g. `tokenizers`, set up by tests/CMakeLists.txt).
function(brix_test name)
  if(NOT BRIX_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;FIXTURES" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  include(GoogleTest)
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
                       PROPERTIES TIMEOUT 120 LABELS unit FIXTURES_REQUIRED "${ARG_FIXTURES}")
endfunction()

# brix_benchmark(NAME SRCS ... DEPS ...)
#   A Google Benchmark binary; built by default, run by `make bench`, never by `make test`.
function(brix_benchmark name)
  if(NOT BRIX_BUILD_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark_main)
endfunction()

# brix_fuzzer(NAME SRCS ... DEPS ...)
#   A libFuzzer target, built only with -DBRIX_FUZZ=ON (the `fuzz` preset, clang).
function(brix_fuzzer name)
  if(NOT BRIX_FUZZ)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set_property(GLOBAL APPEND PROPERTY BRIX_FUZZERS ${name})
endfunction()
