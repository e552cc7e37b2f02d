# Consumer test: an installed tricolor used through pkg-config, without CMake on the consumer's
# side: one compiler call, as a Makefile or a shell script would make it,
#   <CXX> -std=c++20 -O2 <SOURCE> -o <BINARY> $(pkg-config --cflags --libs tricolor)
# with PKG_CONFIG_PATH pointing into the install prefix. The program must exit with 0 and, when
# EXPECTED names a file, print exactly what it holds. Run by ctest (consumer_pkg_config, and the
# README's first example in tests/docs) as
#   cmake -DPREFIX=<install prefix> -DCXX=<compiler> -DPKG_CONFIG=<pkg-config> -DSOURCE=<file.cpp>
#         -DBINARY=<program to write> [-DEXPECTED=<file>] -P build_and_run.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS PREFIX CXX PKG_CONFIG SOURCE BINARY)
  if(NOT ${var})
    message(FATAL_ERROR "build_and_run.cmake: pass -D${var}=...")
  endif()
endforeach()

file(GLOB_RECURSE pc_files "${PREFIX}/*/tricolor.pc")
if(NOT pc_files)
  message(FATAL_ERROR "no tricolor.pc under ${PREFIX}: was tricolor installed there?")
endif()
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")

get_filename_component(binary_dir "${BINARY}" DIRECTORY)
file(MAKE_DIRECTORY "${binary_dir}")
set(command
  "'${CXX}' -std=c++20 -O2 '${SOURCE}' -o '${BINARY}' $('${PKG_CONFIG}' --cflags --libs tricolor)")
message(STATUS "PKG_CONFIG_PATH=${pc_dir}")
message(STATUS "${command}")
execute_process(COMMAND sh -c "${command}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the compiler call failed (${rc})")
endif()

execute_process(COMMAND "${BINARY}" OUTPUT_VARIABLE output RESULT_VARIABLE rc)
message(STATUS "its output:\n${output}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BINARY} exited with ${rc}")
endif()
if(EXPECTED)
  file(READ "${EXPECTED}" expected)
  if(NOT output STREQUAL expected)
    message(FATAL_ERROR "expected this output:\n${expected}")
  endif()
endif()
