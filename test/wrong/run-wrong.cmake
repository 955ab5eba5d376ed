# run-wrong.cmake -- run one deliberately wrong program and check its outcome.
#
#   cmake -DMI_PARAMS=<file> -P run-wrong.cmake
#
# <file> (written by test/wrong/CMakeLists.txt) sets:
#   MI_COMMAND   the command line (a list: the program, or a tool and the program)
#   MI_ENV       NAME=VALUE entries set in the environment of the command
#   MI_EXPECT    exit0   : exit code 0
#                abort   : killed by SIGABRT (abort())
#                segv    : killed by SIGSEGV
#                fail    : any other outcome than exit code 0 (a non-zero exit code or
#                          a signal; sanitizers and valgrind --error-exitcode)
#   MI_MATCH     regular expressions the output (stdout and stderr, merged) must match
#   MI_NOMATCH   regular expressions it must not match
#
# Always forbidden: "wrong: FAILED" (an in-program check failed) and, unless the run
# is expected to end by a signal or failure, a missing "wrong: <case>: survived" line.

cmake_minimum_required(VERSION 3.18)

if(NOT MI_PARAMS OR NOT EXISTS "${MI_PARAMS}")
  message(FATAL_ERROR "run-wrong: give -DMI_PARAMS=<parameter file>")
endif()
set(MI_COMMAND)
set(MI_ENV)
set(MI_MATCH)
set(MI_NOMATCH)
set(MI_EXPECT exit0)
include("${MI_PARAMS}")

foreach(entry IN LISTS MI_ENV)
  if(entry MATCHES "^([^=]+)=(.*)$")
    set(ENV{${CMAKE_MATCH_1}} "${CMAKE_MATCH_2}")
  endif()
endforeach()

string(REPLACE ";" " " cmdline "${MI_COMMAND}")
message(STATUS "run-wrong: ${MI_ENV} ${cmdline}")
execute_process(COMMAND ${MI_COMMAND}
                RESULT_VARIABLE rc
                OUTPUT_VARIABLE out
                ERROR_VARIABLE out
                TIMEOUT 600)
message(STATUS "run-wrong: result: ${rc}\n----- output -----\n${out}------------------")

set(problems)
if(MI_EXPECT STREQUAL "exit0")
  if(NOT "${rc}" STREQUAL "0")
    list(APPEND problems "expected exit code 0, got: ${rc}")
  endif()
elseif(MI_EXPECT STREQUAL "abort")
  if(NOT "${rc}" MATCHES "abort")
    list(APPEND problems "expected an abort (SIGABRT), got: ${rc}")
  endif()
elseif(MI_EXPECT STREQUAL "segv")
  if(NOT "${rc}" MATCHES "Segmentation")
    list(APPEND problems "expected a segmentation fault, got: ${rc}")
  endif()
elseif(MI_EXPECT STREQUAL "fail")
  if("${rc}" STREQUAL "0")
    list(APPEND problems "expected a failure, got exit code 0")
  endif()
else()
  message(FATAL_ERROR "run-wrong: unknown MI_EXPECT '${MI_EXPECT}'")
endif()

foreach(re IN LISTS MI_MATCH)
  if(NOT out MATCHES "${re}")
    list(APPEND problems "the output does not match: ${re}")
  endif()
endforeach()
list(APPEND MI_NOMATCH "wrong: FAILED")
foreach(re IN LISTS MI_NOMATCH)
  if(out MATCHES "${re}")
    list(APPEND problems "the output matches what it must not: ${re} (\"${CMAKE_MATCH_0}\")")
  endif()
endforeach()
if(MI_EXPECT STREQUAL "exit0" AND NOT out MATCHES "wrong: [a-z-]+: survived")
  list(APPEND problems "the program did not get to its end")
endif()

if(problems)
  string(REPLACE ";" "\n  " problems "${problems}")
  message(FATAL_ERROR "run-wrong: FAILED:\n  ${problems}")
endif()
message(STATUS "run-wrong: as expected (${MI_EXPECT})")
