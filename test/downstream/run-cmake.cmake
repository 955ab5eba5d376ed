# run-cmake.cmake -- configure, build and test the downstream project (this directory)
# against the install that the `install` test made in MI_PREFIX (ctest fixture).

cmake_minimum_required(VERSION 3.18)

function(step what)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${bin}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "downstream-cmake: ${what} failed")
  endif()
endfunction()

set(bin "${MI_WORK}/downstream-cmake")
file(REMOVE_RECURSE "${bin}")
file(MAKE_DIRECTORY "${bin}")
set(generator_args -G "${MI_GENERATOR}")
if(MI_MAKE_PROGRAM)
  list(APPEND generator_args "-DCMAKE_MAKE_PROGRAM=${MI_MAKE_PROGRAM}")
endif()
step("configure" "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}" -B "${bin}" ${generator_args}
     "-DCMAKE_PREFIX_PATH=${MI_PREFIX}"
     "-DMI_EXPECT_PREFIX=${MI_PREFIX}"
     "-DMI_OBJECT_NAME=${MI_BASENAME}.o"
     "-DMI_TRACK_ASAN=${MI_TRACK_ASAN}"
     "-DMI_OVERRIDE=${MI_OVERRIDE}"
     "-DMI_STATIC_OVERRIDE=${MI_STATIC_OVERRIDE}"
     "-DCMAKE_C_COMPILER=${MI_C_COMPILER}"
     "-DCMAKE_CXX_COMPILER=${MI_CXX_COMPILER}"
     "-DCMAKE_BUILD_TYPE=${MI_BUILD_TYPE}")
step("build" "${CMAKE_COMMAND}" --build "${bin}")
step("ctest" "${CMAKE_CTEST_COMMAND}" --output-on-failure)

# every kind of linking the installed package offers was exercised
set(want)
if(MI_HAS_SHARED)
  list(APPEND want dynamic-override dynamic-override-cxx new-delete-header)
endif()
if(MI_HAS_OBJECT AND MI_STATIC_OVERRIDE)   # also with MI_INSTALL_TOPLEVEL (MIMALLOC_OBJECT_DIR is right there)
  list(APPEND want static-override-obj static-override-obj-cxx)
endif()
if(MI_HAS_STATIC AND MI_STATIC_OVERRIDE)
  list(APPEND want static-override static-override-cxx static-override-static)
endif()
foreach(exe IN LISTS want)
  if(NOT EXISTS "${bin}/${exe}")
    message(FATAL_ERROR "downstream-cmake: ${exe} was not built")
  endif()
endforeach()
message(STATUS "downstream-cmake: built and ran ${want}")
