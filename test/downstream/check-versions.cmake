# check-versions.cmake -- the version rule of mimalloc 2.1.7's package: which
# find_package(mimalloc ...) requests the installed 2.1.7 satisfies, and which version
# it reports (2.1, never 2.1.7).

cmake_minimum_required(VERSION 3.18)

# request | EXACT? | expected result
set(cases
  "|0|2.1"
  "2|0|2.1"
  "2.0|0|2.1"
  "2.1|0|2.1"
  "2.1.7|0|2.1"
  "2.1.99|0|2.1"
  "2.1|1|2.1"
  "2.0|1|none"
  "2.2|0|none"
  "3.0|0|none"
  "1.4|0|none"
  "1.8|0|none"
  "0.5|0|none"
  "2.0...2.5|0|2.1"
  "1.0...3.0|0|none")

set(failures 0)
set(n 0)
foreach(case IN LISTS cases)
  string(REPLACE "|" ";" fields "${case}")
  list(GET fields 0 request)
  list(GET fields 1 exact)
  list(GET fields 2 want)
  set(exact_arg "")
  if(exact)
    set(exact_arg "EXACT")
  endif()
  math(EXPR n "${n} + 1")
  set(bin "${MI_WORK}/version-probe-${n}")
  file(REMOVE_RECURSE "${bin}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/version-probe" -B "${bin}"
                          "-DMI_REQUEST=${request}" "-DMI_EXACT=${exact_arg}" "-DMI_PREFIX=${MI_PREFIX}"
                          "-DMI_LIBDIR=${MI_LIBDIR}"
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(out MATCHES "probe: found mimalloc_VERSION=([0-9.]+)")
    set(got "${CMAKE_MATCH_1}")
  elseif(out MATCHES "probe: not found")
    set(got "none")
  else()
    set(got "error: ${err}")
  endif()
  if(got STREQUAL want)
    message(STATUS "find_package(mimalloc ${request} ${exact_arg}) -> ${got}: ok")
  else()
    message(STATUS "find_package(mimalloc ${request} ${exact_arg}) -> ${got}, expected ${want}: FAILED")
    math(EXPR failures "${failures} + 1")
  endif()
  file(REMOVE_RECURSE "${bin}")
endforeach()
if(failures)
  message(FATAL_ERROR "find-package-versions: ${failures} case(s) failed")
endif()
