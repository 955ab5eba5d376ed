# port-steps.cmake -- the vcpkg port's build without vcpkg (which cannot be installed
# here): for a few triplet linkages and features, run the CMake configure, build and
# install steps with the options the portfile passes (ports/mimalloc-rs/port-options.cmake,
# which the portfile uses too), for Release and, like vcpkg, Debug into <package>/debug;
# then do what vcpkg_cmake_config_fixup would (move lib/cmake/mimalloc to share/mimalloc,
# one directory less to the prefix in the export files, the debug configuration's file
# pointing into debug/) and the portfile's own fix of mimalloc-config.cmake; finally build
# and run the downstream projects (test/downstream) against the package with
# find_package(mimalloc CONFIG).
#
#   cmake -DMI_SOURCE_DIR=<repo> -DMI_WORK=<dir> -DMI_JOBS=2 -P test/vcpkg/port-steps.cmake
cmake_minimum_required(VERSION 3.18)
include("${MI_SOURCE_DIR}/ports/mimalloc-rs/port-options.cmake")
if(NOT MI_JOBS)
  set(MI_JOBS 2)
endif()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "port-steps: ${what} failed:\n${out}")
  endif()
endfunction()

# port_case(<name> <static|dynamic> FEATURES <f>... CONSUMER <downstream options>...)
function(port_case name linkage)
  cmake_parse_arguments(C "" "" "FEATURES;CONSUMER" ${ARGN})
  mimalloc_rs_port_options(opts ${linkage} ${C_FEATURES})
  set(dir "${MI_WORK}/${name}")
  set(pkg "${dir}/package")
  file(REMOVE_RECURSE "${dir}")
  message(STATUS "port-steps: ${name}: ${linkage}, features [${C_FEATURES}]: ${opts}")
  foreach(config Release Debug)
    set(prefix "${pkg}")
    if(config STREQUAL "Debug")
      set(prefix "${pkg}/debug")
    endif()
    run("${name} ${config} configure" "${CMAKE_COMMAND}" -S "${MI_SOURCE_DIR}" -B "${dir}/build-${config}"
        -DCMAKE_BUILD_TYPE=${config} "-DCMAKE_INSTALL_PREFIX=${prefix}" -DMI_CARGO_JOBS=${MI_JOBS} ${opts})
    run("${name} ${config} build" "${CMAKE_COMMAND}" --build "${dir}/build-${config}" -j ${MI_JOBS})
    run("${name} ${config} install" "${CMAKE_COMMAND}" --install "${dir}/build-${config}")
  endforeach()

  # vcpkg_cmake_config_fixup(PACKAGE_NAME mimalloc CONFIG_PATH lib/cmake/mimalloc), as far
  # as this package needs it
  set(share "${pkg}/share/mimalloc")
  file(MAKE_DIRECTORY "${pkg}/share")
  file(RENAME "${pkg}/lib/cmake/mimalloc" "${share}")
  file(GLOB debug_files "${pkg}/debug/lib/cmake/mimalloc/mimalloc-debug.cmake")
  foreach(f IN LISTS debug_files)
    file(READ "${f}" text)
    string(REPLACE "\${_IMPORT_PREFIX}/" "\${_IMPORT_PREFIX}/debug/" text "${text}")
    file(WRITE "${share}/mimalloc-debug.cmake" "${text}")
  endforeach()
  file(REMOVE_RECURSE "${pkg}/lib/cmake" "${pkg}/debug/lib/cmake" "${pkg}/debug/include" "${pkg}/debug/share")
  file(READ "${share}/mimalloc.cmake" text)
  string(REPLACE "get_filename_component(_IMPORT_PREFIX \"\${_IMPORT_PREFIX}\" PATH)\n" "" stripped "${text}")
  string(REPLACE "get_filename_component(_IMPORT_PREFIX \"\${CMAKE_CURRENT_LIST_FILE}\" PATH)\n"
         "get_filename_component(_IMPORT_PREFIX \"\${CMAKE_CURRENT_LIST_FILE}\" PATH)\nget_filename_component(_IMPORT_PREFIX \"\${_IMPORT_PREFIX}\" PATH)\nget_filename_component(_IMPORT_PREFIX \"\${_IMPORT_PREFIX}\" PATH)\n"
         text "${stripped}")
  file(WRITE "${share}/mimalloc.cmake" "${text}")
  # the portfile's own step
  mimalloc_rs_fix_config("${share}/mimalloc-config.cmake")

  foreach(config Release Debug)
    set(object_name "mimalloc.o")
    run("${name} consumer ${config} configure" "${CMAKE_COMMAND}" -S "${MI_SOURCE_DIR}/test/downstream"
        -B "${dir}/consumer-${config}" -DCMAKE_BUILD_TYPE=${config} "-DCMAKE_PREFIX_PATH=${pkg}"
        "-DMI_EXPECT_PREFIX=${pkg}" ${C_CONSUMER})
    run("${name} consumer ${config} build" "${CMAKE_COMMAND}" --build "${dir}/consumer-${config}" -j ${MI_JOBS})
    run("${name} consumer ${config} ctest" "${CMAKE_CTEST_COMMAND}" --test-dir "${dir}/consumer-${config}"
        --output-on-failure)
    # the consumer linked the library of its own configuration
    file(STRINGS "${dir}/consumer-${config}/CMakeCache.txt" found REGEX "^mimalloc_DIR:")
    message(STATUS "port-steps: ${name}: consumer ${config} ok (${found})")
  endforeach()
  file(GLOB_RECURSE debug_libs "${pkg}/debug/lib/libmimalloc*")
  if(NOT debug_libs)
    message(FATAL_ERROR "port-steps: ${name}: no debug library in ${pkg}/debug/lib")
  endif()
  file(REMOVE_RECURSE "${dir}/build-Release" "${dir}/build-Debug")
endfunction()

# x64-linux: static, no features (malloc stays libc's)
port_case(static static CONSUMER -DMI_OVERRIDE=OFF)
# x64-linux-dynamic with secure and override
port_case(dynamic-secure-override dynamic FEATURES secure override CONSUMER -DMI_OVERRIDE=ON)
# x64-linux-dynamic with asan (and override: ASAN's own malloc stays in charge)
port_case(dynamic-asan dynamic FEATURES asan override
          CONSUMER -DMI_TRACK_ASAN=ON -DMI_OVERRIDE=OFF -DMI_STATIC_OVERRIDE=OFF)
message(STATUS "port-steps: all cases passed")
