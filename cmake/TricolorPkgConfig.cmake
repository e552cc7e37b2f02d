# tricolor.pc, so that a build without CMake finds the installed library with pkg-config:
#   c++ -std=c++20 -O2 app.cpp $(pkg-config --cflags --libs tricolor) -o app
# (with PKG_CONFIG_PATH=<prefix>/<libdir>/pkgconfig when the prefix is not a system one). C++20 is
# the user's flag to give; -pthread is in both Cflags and Libs. Included from the install section
# of the top-level CMakeLists.txt; tested by the consumer_pkg_config test.
#
# The paths are written relative to ${pcfiledir}, the directory pkg-config finds the file in, so
# that `cmake --install --prefix <dir>` (which chooses the prefix after configuring) and a moved
# install tree both work. Absolute CMAKE_INSTALL_LIBDIR or INCLUDEDIR are written as they are.
include_guard(GLOBAL)

set(TRICOLOR_PC_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${TRICOLOR_PC_INSTALL_DIR}")
  set(TRICOLOR_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  # From <prefix>/<libdir>/pkgconfig back up to <prefix>: one ".." per path component.
  file(RELATIVE_PATH _tricolor_pc_up "/_prefix/${TRICOLOR_PC_INSTALL_DIR}" "/_prefix")
  string(REGEX REPLACE "/$" "" _tricolor_pc_up "${_tricolor_pc_up}")
  set(TRICOLOR_PC_PREFIX "\${pcfiledir}/${_tricolor_pc_up}")
endif()
foreach(_kind IN ITEMS LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_kind}}")
    set(TRICOLOR_PC_${_kind} "${CMAKE_INSTALL_${_kind}}")
  else()
    set(TRICOLOR_PC_${_kind} "\${prefix}/${CMAKE_INSTALL_${_kind}}")
  endif()
endforeach()

# The heap profile's writer needs zlib, and libbacktrace where the build found it (by its path:
# GCC's private directory is on no linker path).
set(TRICOLOR_PC_PROFILE_LIBS "-lz ${TRICOLOR_LIBBACKTRACE}")
string(STRIP "${TRICOLOR_PC_PROFILE_LIBS}" TRICOLOR_PC_PROFILE_LIBS)
configure_file("${PROJECT_SOURCE_DIR}/cmake/tricolor.pc.in" "${PROJECT_BINARY_DIR}/tricolor.pc"
               @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/tricolor.pc" DESTINATION "${TRICOLOR_PC_INSTALL_DIR}")
