# BRIX_SANITIZE is a comma-separated list passed to -fsanitize (the asan preset sets
# "address,undefined"). Fuzz builds add libFuzzer's instrumentation on top.
set(BRIX_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined")
if(BRIX_SANITIZE)
  add_compile_options(-fsanitize=${BRIX_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${BRIX_SANITIZE})
  # clang 14 cannot emit -fsanitize=function's prologue for split coroutine functions ("Cannot
  # represent a difference across sections"), so that one UBSan check is off with clang.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND BRIX_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize=function)
  endif()
endif()
if(BRIX_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "BRIX_FUZZ needs clang (use the 'fuzz' preset)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
