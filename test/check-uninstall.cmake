# check-uninstall.cmake -- `DESTDIR=... make install` puts the files under DESTDIR,
# and the uninstall script (what `make uninstall` runs) removes exactly them: every
# installed file and every directory the install created, nothing that was there
# before. Two rounds: into a DESTDIR where <prefix>/<libdir> already holds a file of
# someone else, and into an empty DESTDIR.

cmake_minimum_required(VERSION 3.18)

function(fail msg)
  message(FATAL_ERROR "check-uninstall: ${msg}")
endfunction()

include("${CMAKE_CURRENT_LIST_DIR}/full-install.cmake")
set(manifest "${MI_BINARY_DIR}/install_manifest_test-destdir.txt")
string(REPLACE "|" ";" expected "${MI_EXPECTED}")

function(install_and_uninstall destdir)
  set(root "${destdir}${MI_CONFIGURED_PREFIX}")
  mi_full_install(test-destdir DESTDIR "${destdir}")
  if(NOT mi_install_rc EQUAL 0)
    fail("DESTDIR=${destdir} cmake --install failed")
  endif()
  foreach(f IN LISTS expected)
    if(NOT EXISTS "${root}/${f}" AND NOT IS_SYMLINK "${root}/${f}")
      fail("DESTDIR install: ${root}/${f} is missing")
    endif()
  endforeach()
  file(STRINGS "${manifest}" listed)
  foreach(f IN LISTS listed)
    if(f MATCHES "^${destdir}")
      fail("the install manifest must not contain DESTDIR: ${f}")
    endif()
  endforeach()
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env "DESTDIR=${destdir}"
                          "${CMAKE_COMMAND}" "-DMI_BINARY_DIR=${MI_BINARY_DIR}" "-DMI_MANIFEST=${manifest}"
                          -P "${MI_SOURCE_DIR}/cmake/mimalloc-uninstall.cmake"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    fail("uninstall failed")
  endif()
endfunction()

# round 1: <prefix>/<libdir> exists with a foreign file
set(d1 "${MI_WORK}/destdir1")
file(REMOVE_RECURSE "${d1}")
set(foreign "${d1}${MI_CONFIGURED_PREFIX}/${MI_LIBDIR}/not-mimalloc.txt")
file(WRITE "${foreign}" "someone else's file\n")
install_and_uninstall("${d1}")
file(GLOB_RECURSE left LIST_DIRECTORIES true "${d1}/*")
list(SORT left)
set(want)
set(dir "${d1}${MI_CONFIGURED_PREFIX}/${MI_LIBDIR}")
while(NOT dir STREQUAL d1)
  list(APPEND want "${dir}")
  get_filename_component(dir "${dir}" DIRECTORY)
endwhile()
list(APPEND want "${foreign}")
list(SORT want)
if(NOT left STREQUAL want)
  fail("after uninstall (round 1) the tree should be\n  ${want}\nbut is\n  ${left}")
endif()
message(STATUS "round 1: the foreign file and the directories that existed before are kept, everything else removed")

# round 2: empty DESTDIR: the prefix itself was created by the install and goes away
set(d2 "${MI_WORK}/destdir2")
file(REMOVE_RECURSE "${d2}")
file(MAKE_DIRECTORY "${d2}")
install_and_uninstall("${d2}")
if(EXISTS "${d2}${MI_CONFIGURED_PREFIX}")
  file(GLOB_RECURSE left "${d2}${MI_CONFIGURED_PREFIX}/*")
  fail("after uninstall (round 2) ${d2}${MI_CONFIGURED_PREFIX} still exists: ${left}")
endif()
message(STATUS "round 2: the prefix created by the install is removed")
file(REMOVE_RECURSE "${d1}" "${d2}")
