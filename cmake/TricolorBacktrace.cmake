# GCC's libbacktrace (libbacktrace.a and backtrace.h in GCC's private directory, e.g.
# /usr/lib/gcc/x86_64-linux-gnu/12/), which the heap profile's symbolizer uses to read DWARF line
# tables (src/gc/symbolizer.cpp). Optional: without it, profiles name functions through dladdr.
#
# Sets TRICOLOR_LIBBACKTRACE (the archive, or empty) and TRICOLOR_LIBBACKTRACE_INCLUDE (a directory
# in the build tree holding copies of just backtrace.h and backtrace-supported.h: GCC's include
# directory itself also holds GCC's own stddef.h and friends, which Clang must not pick up).
include_guard(GLOBAL)

option(TRICOLOR_USE_LIBBACKTRACE "Symbolise heap profiles with GCC's libbacktrace if found" ON)
set(TRICOLOR_LIBBACKTRACE "")
set(TRICOLOR_LIBBACKTRACE_INCLUDE "")
if(TRICOLOR_USE_LIBBACKTRACE)
  file(GLOB _tricolor_gcc_dirs LIST_DIRECTORIES true "/usr/lib/gcc/*/*" "/usr/local/lib/gcc/*/*")
  list(SORT _tricolor_gcc_dirs ORDER DESCENDING)  # the newest GCC first
  foreach(_dir IN LISTS _tricolor_gcc_dirs)
    if(EXISTS "${_dir}/libbacktrace.a" AND EXISTS "${_dir}/include/backtrace.h"
       AND EXISTS "${_dir}/include/backtrace-supported.h")
      set(TRICOLOR_LIBBACKTRACE "${_dir}/libbacktrace.a")
      set(TRICOLOR_LIBBACKTRACE_INCLUDE "${PROJECT_BINARY_DIR}/libbacktrace-include")
      file(COPY "${_dir}/include/backtrace.h" "${_dir}/include/backtrace-supported.h"
           DESTINATION "${TRICOLOR_LIBBACKTRACE_INCLUDE}")
      break()
    endif()
  endforeach()
endif()
if(TRICOLOR_LIBBACKTRACE)
  message(STATUS "tricolor: heap profiles symbolised with ${TRICOLOR_LIBBACKTRACE}")
else()
  message(STATUS "tricolor: libbacktrace not found; heap profiles symbolised with dladdr")
endif()
