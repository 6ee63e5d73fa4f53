# Records the version and the git commit in a generated header, read by `brix version`.
execute_process(
  COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  OUTPUT_VARIABLE BRIX_GIT_COMMIT
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET)
if(NOT BRIX_GIT_COMMIT)
  set(BRIX_GIT_COMMIT "unknown")
endif()
set(BRIX_BUILD_TYPE "${CMAKE_BUILD_TYPE}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/version.h.in ${PROJECT_BINARY_DIR}/generated/base/version.h
               @ONLY)
