# port-options.cmake -- the CMake options of the mimalloc-rs port, shared by portfile.cmake
# and the test that runs the port's configure/build/install steps without vcpkg
# (test/vcpkg/run-port-steps.sh), so both pass the same options.

# mimalloc_rs_port_options(<out-var> <static|dynamic> <feature>...)
function(mimalloc_rs_port_options out linkage)
  set(features ${ARGN})
  set(opts -DMI_BUILD_TESTS=OFF -DMI_BUILD_OBJECT=OFF -DMI_INSTALL_TOPLEVEL=ON)
  if(linkage STREQUAL "dynamic")
    list(APPEND opts -DMI_BUILD_SHARED=ON -DMI_BUILD_STATIC=OFF)
  else()
    list(APPEND opts -DMI_BUILD_SHARED=OFF -DMI_BUILD_STATIC=ON)
  endif()
  foreach(pair "secure=MI_SECURE" "override=MI_OVERRIDE" "asan=MI_TRACK_ASAN")
    string(REPLACE "=" ";" pair "${pair}")
    list(GET pair 0 feature)
    list(GET pair 1 option)
    if(feature IN_LIST features)
      list(APPEND opts -D${option}=ON)
    else()
      list(APPEND opts -D${option}=OFF)
    endif()
  endforeach()
  set(${out} ${opts} PARENT_SCOPE)
endfunction()

# mimalloc_rs_fix_config(<mimalloc-config.cmake>) -- once the package directory has moved
# from lib/cmake/mimalloc to share/mimalloc (vcpkg_cmake_config_fixup), its
# MIMALLOC_*_DIR variables must climb two directories to the prefix, not three.
function(mimalloc_rs_fix_config file)
  file(READ "${file}" text)
  string(REGEX REPLACE "(_mimalloc_prefix \"\\\${CMAKE_CURRENT_LIST_DIR}/)[./]+(\" ABSOLUTE)" "\\1../..\\2" new "${text}")
  if(new STREQUAL text AND NOT text MATCHES "_mimalloc_prefix \"\\\${CMAKE_CURRENT_LIST_DIR}/\\.\\./\\.\\.\" ABSOLUTE")
    message(FATAL_ERROR "mimalloc-rs: cannot find the prefix computation in ${file}")
  endif()
  file(WRITE "${file}" "${new}")
endfunction()
