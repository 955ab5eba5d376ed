# full-install.cmake -- mi_full_install(<name> [PREFIX <dir>] [DESTDIR <dir>]): install
# the whole build (every install component, as `make install` does) for a test, without
# touching the record of the user's own last install: install_manifest.txt and
# install_manifest-dirs.txt (what `make uninstall` reads) are set aside during the install
# and put back; the test's records are kept as install_manifest_<name>.txt and
# install_manifest_<name>-dirs.txt. Sets mi_install_rc in the caller.
# (The install rules are split into components, runtime and dev, for the packages;
# installing one component would install only part of the files.)

function(mi_full_install name)
  cmake_parse_arguments(I "" "PREFIX;DESTDIR" "" ${ARGN})
  set(records "${MI_BINARY_DIR}/install_manifest.txt" "${MI_BINARY_DIR}/install_manifest-dirs.txt")
  set(ours "${MI_BINARY_DIR}/install_manifest_${name}.txt" "${MI_BINARY_DIR}/install_manifest_${name}-dirs.txt")
  foreach(f IN LISTS records)
    if(EXISTS "${f}")
      file(RENAME "${f}" "${f}.saved-by-test")
    endif()
  endforeach()
  set(cmd "${CMAKE_COMMAND}" --install "${MI_BINARY_DIR}")
  if(I_PREFIX)
    list(APPEND cmd --prefix "${I_PREFIX}")
  endif()
  if(DEFINED I_DESTDIR)
    set(cmd "${CMAKE_COMMAND}" -E env "DESTDIR=${I_DESTDIR}" ${cmd})
  endif()
  file(REMOVE ${ours})
  execute_process(COMMAND ${cmd} RESULT_VARIABLE rc)
  foreach(i RANGE 1)
    list(GET records ${i} f)
    list(GET ours ${i} o)
    if(EXISTS "${f}")
      file(RENAME "${f}" "${o}")
    endif()
    if(EXISTS "${f}.saved-by-test")
      file(RENAME "${f}.saved-by-test" "${f}")
    endif()
  endforeach()
  set(mi_install_rc "${rc}" PARENT_SCOPE)
endfunction()
