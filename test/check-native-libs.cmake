# check-native-libs.cmake -- what rustc says a static link of the Rust core needs
# (`--print native-static-libs`, written by the cargo step) must be covered by the
# link libraries CMake gives the static library (and mimalloc.pc's Libs.private).
#
#   cmake -DMI_NATIVE_FILES=<file>|<file> -DMI_LIBRARIES=<lib>|<lib> -P check-native-libs.cmake

cmake_minimum_required(VERSION 3.18)
string(REPLACE "|" ";" files "${MI_NATIVE_FILES}")
string(REPLACE "|" ";" libs "${MI_LIBRARIES}")
set(have c)   # libc is always linked
foreach(lib IN LISTS libs)
  get_filename_component(name "${lib}" NAME_WE)
  string(REGEX REPLACE "^lib" "" name "${name}")
  list(APPEND have "${lib}" "${name}")
endforeach()
foreach(file IN LISTS files)
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "check-native-libs: ${file} is missing (rustc writes it when it builds the core)")
  endif()
  file(READ "${file}" text)
  string(STRIP "${text}" text)
  message(STATUS "${file}: ${text}")
  separate_arguments(items UNIX_COMMAND "${text}")
  foreach(item IN LISTS items)
    if(item MATCHES "^-l(.+)$")
      if(NOT CMAKE_MATCH_1 IN_LIST have)
        message(FATAL_ERROR "check-native-libs: the Rust core needs -l${CMAKE_MATCH_1} but the link libraries are: ${libs}")
      endif()
    elseif(item MATCHES "^-")
      message(FATAL_ERROR "check-native-libs: unexpected native link argument ${item}")
    endif()
  endforeach()
endforeach()
message(STATUS "link libraries ${libs} cover the Rust core's native libraries")
