# Every target of ours builds with these; third-party headers come from /usr/include and are
# treated as system headers by the compiler, so their warnings do not fail our build.
add_compile_options(-Wall -Wextra -Werror -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false positives inside Boost.Asio/Beast coroutine frames and std::variant
  # at -O2 (see GCC bugs 105329, 104475); they are not actionable in our code. With ASan it also
  # pairs an Asio coroutine frame's class-specific operator delete with the global new
  # (-Wmismatched-new-delete, GCC bug 109224).
  add_compile_options(-Wno-maybe-uninitialized -Wno-array-bounds -Wno-stringop-overflow
                      -Wno-restrict -Wno-dangling-reference -Wno-mismatched-new-delete)
endif()
