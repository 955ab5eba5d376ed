# check-install.cmake -- install the build into a temporary prefix and check the result:
# exactly the expected files (the layout of mimalloc 2.1.7), the symlink chain of the
# shared library, and the contents of mimalloc.pc. It is the setup of the downstream
# tests (ctest fixture `mi_installed`).
#
# The install leaves the user's install_manifest.txt (what `make uninstall` reads) alone
# (full-install.cmake).

cmake_minimum_required(VERSION 3.18)

function(fail msg)
  message(FATAL_ERROR "check-install: ${msg}")
endfunction()

file(REMOVE_RECURSE "${MI_PREFIX}")
include("${CMAKE_CURRENT_LIST_DIR}/full-install.cmake")
mi_full_install(test-install PREFIX "${MI_PREFIX}")
if(NOT mi_install_rc EQUAL 0)
  fail("cmake --install failed")
endif()

# 1. exactly the expected files
string(REPLACE "|" ";" expected "${MI_EXPECTED}")
list(SORT expected)
file(GLOB_RECURSE installed LIST_DIRECTORIES false RELATIVE "${MI_PREFIX}" "${MI_PREFIX}/*")
list(SORT installed)
if(NOT installed STREQUAL expected)
  set(missing ${expected})
  if(installed)
    list(REMOVE_ITEM missing ${installed})
  endif()
  set(extra ${installed})
  list(REMOVE_ITEM extra ${expected})
  fail("installed files differ from the expected layout\n  missing: ${missing}\n  unexpected: ${extra}")
endif()
message(STATUS "Installed files (prefix ${MI_PREFIX}):")
foreach(f IN LISTS installed)
  message(STATUS "  ./${f}")
endforeach()

# 2. the shared library's symlinks
if(MI_HAS_SHARED)
  set(lib "${MI_PREFIX}/${MI_LIBDIR}/lib${MI_BASENAME}")
  if(NOT IS_SYMLINK "${lib}.so" OR NOT IS_SYMLINK "${lib}.so.2" OR IS_SYMLINK "${lib}.so.${MI_VERSION}")
    fail("lib${MI_BASENAME}.so and .so.2 must be symlinks and .so.${MI_VERSION} the real file")
  endif()
  file(READ_SYMLINK "${lib}.so" t1)
  file(READ_SYMLINK "${lib}.so.2" t2)
  if(NOT t1 STREQUAL "lib${MI_BASENAME}.so.2" OR NOT t2 STREQUAL "lib${MI_BASENAME}.so.${MI_VERSION}")
    fail("symlinks: lib${MI_BASENAME}.so -> ${t1}, .so.2 -> ${t2}")
  endif()
endif()

# 3. mimalloc.pc
set(pc "${MI_PREFIX}/${MI_LIBDIR}/pkgconfig/mimalloc.pc")
file(STRINGS "${pc}" pclines)
set(want_lines
  "prefix=${MI_PREFIX}"
  "Name: libmimalloc"
  "Version: ${MI_VERSION}"
  "Libs: -L\${libdir} -l${MI_BASENAME}"
  "Cflags: -I\${includedir}")
foreach(line IN LISTS want_lines)
  if(NOT line IN_LIST pclines)
    fail("mimalloc.pc lacks the line '${line}'")
  endif()
endforeach()
foreach(line IN LISTS pclines)
  if(line MATCHES "^includedir=(.*)$")
    string(REPLACE "\${prefix}" "${MI_PREFIX}" incdir "${CMAKE_MATCH_1}")
    if(NOT EXISTS "${incdir}/mimalloc.h")
      fail("mimalloc.pc: includedir ${incdir} does not contain mimalloc.h")
    endif()
  elseif(line MATCHES "^Libs.private:(.*)$")
    if(NOT CMAKE_MATCH_1 MATCHES "-lpthread")
      fail("mimalloc.pc: Libs.private lacks -lpthread: ${CMAKE_MATCH_1}")
    endif()
  endif()
endforeach()
message(STATUS "mimalloc.pc: prefix, Name, Version, Libs, Libs.private and Cflags (-> mimalloc.h) are right")

# 4. the export files name the installed libraries
if(MI_HAS_SHARED OR MI_HAS_STATIC)
  string(TOLOWER "${MI_BUILD_TYPE}" cfg)
  file(READ "${MI_PREFIX}/${MI_CMAKEDIR}/mimalloc-${cfg}.cmake" targets)
  if(MI_HAS_SHARED AND NOT targets MATCHES "IMPORTED_SONAME_[A-Z]+ \"lib${MI_BASENAME}.so.2\"")
    fail("mimalloc-${cfg}.cmake: no IMPORTED_SONAME lib${MI_BASENAME}.so.2")
  endif()
  if(MI_HAS_STATIC AND NOT targets MATCHES "/${MI_OBJDIR}/lib${MI_BASENAME}.a")
    fail("mimalloc-${cfg}.cmake: mimalloc-static does not point at ${MI_OBJDIR}/lib${MI_BASENAME}.a")
  endif()
endif()
message(STATUS "install into ${MI_PREFIX}: ok")
