# mimalloc-cpack.cmake -- binary packages with CPack (included by CMakeLists.txt).
#
# Two components split the install the Debian way:
#   runtime  libmimalloc.so.2 and libmimalloc.so.2.1
#   dev      headers, libmimalloc.so (the link), libmimalloc.a, mimalloc.o, the CMake
#            package and mimalloc.pc
# and three generators make packages of them:
#   DEB  libmimalloc-rs2 and libmimalloc-rs-dev (the names debian/control uses)
#   RPM  mimalloc-rs and mimalloc-rs-devel (Fedora's naming)
#   TGZ  one archive of the whole install tree
# Configure with the prefix the packages install to (/usr), then `cpack -G DEB` in the
# build directory; bin/package.sh does it for each generator with the right libdir.
#
# MI_PACKAGE_DOCS (deb, rpm or empty) installs, for component installs only (and so only
# into packages), the files a distribution wants beside the library: for deb the
# Debian copyright file and changelog.Debian.gz in /usr/share/doc/<package>/, for rpm
# the license in /usr/share/licenses/<package>/.

set(MI_PACKAGE_DOCS "" CACHE STRING "Documentation files for binary packages: deb, rpm or empty")
set(MI_PACKAGE_RELEASE "1" CACHE STRING "Package release (Debian revision) of the binary packages")

set(mi_pkg_version "${mi_version_major}.${mi_version_minor}.${mi_version_patch}")
set(mi_pkg_contact "mimalloc-rs maintainers <maintainers@users.noreply.h-seed-e69a27d1.example>")
set(mi_pkg_summary "compact general purpose allocator (mimalloc 2.1 in Rust)")
set(mi_pkg_about "mimalloc-rs is mimalloc 2.1.7 re-implemented in Rust: a general purpose
allocator with excellent performance, and a drop-in replacement for the C
library, with the same functions, exported symbols, headers and SONAME
(libmimalloc.so.2). Linked or preloaded, it also replaces malloc, free and the
C++ operators new and delete of a program.")

# Debian names: the runtime package carries the SONAME's major version; both conflict
# with (and replace) Debian's own mimalloc packages, which install the same paths
# (libmimalloc.so.2, libmimalloc.so). The runtime also provides libmimalloc2.0, whose
# SONAME it shares, so packages built against Debian's mimalloc can use it.
set(mi_deb_runtime "libmimalloc-rs2")
set(mi_deb_dev "libmimalloc-rs-dev")
set(mi_rpm_runtime "mimalloc-rs")
set(mi_rpm_dev "mimalloc-rs-devel")

set(CPACK_PACKAGE_NAME "mimalloc-rs")
set(CPACK_PACKAGE_VENDOR "the mimalloc-rs developers")
set(CPACK_PACKAGE_CONTACT "${mi_pkg_contact}")
set(CPACK_PACKAGE_VERSION "${mi_pkg_version}")
set(CPACK_PACKAGE_VERSION_MAJOR "${mi_version_major}")
set(CPACK_PACKAGE_VERSION_MINOR "${mi_version_minor}")
set(CPACK_PACKAGE_VERSION_PATCH "${mi_version_patch}")
# no CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack would put it before every component's
# own synopsis (the summaries are per component below)
set(CPACK_PACKAGE_DESCRIPTION "${mi_pkg_about}")
set(CPACK_PACKAGE_DIRECTORY "${mi_bin_dir}/packages")
set(CPACK_GENERATOR "DEB;RPM;TGZ")
set(CPACK_SOURCE_GENERATOR "")
set(CPACK_STRIP_FILES ON)                      # the shared library (the release profile keeps line tables)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_COMPONENT_RUNTIME_DISPLAY_NAME "mimalloc shared library")
set(CPACK_COMPONENT_DEV_DISPLAY_NAME "mimalloc development files")
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
set(CPACK_THREADS 1)

# -- Debian ---------------------------------------------------------------------------
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE "${MI_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_COMPRESSION_TYPE "xz")
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)  # dev: Depends: libmimalloc-rs2 (= version)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME "${mi_deb_runtime}")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION "libs")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "${mi_pkg_summary}
${mi_pkg_about}

This package contains the shared library.")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONFLICTS "libmimalloc2.0")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_REPLACES "libmimalloc2.0")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_PROVIDES "libmimalloc2.0 (= ${mi_pkg_version})")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME "${mi_deb_dev}")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_DEV_DESCRIPTION "${mi_pkg_summary} - development files
${mi_pkg_about}

This package contains the headers, the static library, the single object file
mimalloc.o, the CMake package (find_package(mimalloc)) and the pkg-config file.")
set(CPACK_DEBIAN_DEV_PACKAGE_CONFLICTS "libmimalloc-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_REPLACES "libmimalloc-dev")
# the library's dependencies computed by dpkg-shlibdeps when dpkg-dev is installed
find_program(MI_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(MI_DPKG_SHLIBDEPS)
if(MI_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "libc6 (>= 2.34)")
endif()
# a shlibs file, so that packages built against this one depend on it
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# ldconfig by trigger, as debhelper does; CPack adds its own postinst/postrm calling
# ldconfig as well, and cannot be told not to (lintian: maintscript-calls-ldconfig)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA "${mi_src_dir}/cmake/deb/triggers")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# -- RPM ------------------------------------------------------------------------------
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE "${MI_PACKAGE_RELEASE}")
set(CPACK_RPM_PACKAGE_LICENSE "MIT")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Libraries")
set(CPACK_RPM_PACKAGE_DESCRIPTION "${mi_pkg_about}")
set(CPACK_RPM_RUNTIME_PACKAGE_NAME "${mi_rpm_runtime}")
set(CPACK_RPM_RUNTIME_PACKAGE_SUMMARY "${mi_pkg_summary}")
set(CPACK_RPM_RUNTIME_PACKAGE_CONFLICTS "mimalloc")
set(CPACK_RPM_DEV_PACKAGE_NAME "${mi_rpm_dev}")
set(CPACK_RPM_DEV_PACKAGE_SUMMARY "${mi_pkg_summary} - development files")
set(CPACK_RPM_DEV_PACKAGE_REQUIRES "${mi_rpm_runtime} = ${mi_pkg_version}-${MI_PACKAGE_RELEASE}")
set(CPACK_RPM_DEV_PACKAGE_CONFLICTS "mimalloc-devel")
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    "/usr/${CMAKE_INSTALL_LIBDIR}" "/usr/${CMAKE_INSTALL_LIBDIR}/cmake"
    "/usr/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/usr/share/doc" "/usr/share/licenses")
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")

# -- files for the packages only --------------------------------------------------------
if(MI_PACKAGE_DOCS STREQUAL "deb")
  find_program(MI_GZIP gzip)
  if(NOT MI_GZIP)
    message(FATAL_ERROR "mimalloc: MI_PACKAGE_DOCS=deb needs gzip")
  endif()
  execute_process(COMMAND "${MI_GZIP}" -9nc "${mi_src_dir}/debian/changelog"
                  OUTPUT_FILE "${mi_bin_dir}/changelog.Debian.gz" RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "mimalloc: gzip of debian/changelog failed")
  endif()
  foreach(comp runtime dev)
    set(pkg "${mi_deb_${comp}}")
    install(FILES "${mi_src_dir}/debian/copyright" "${mi_bin_dir}/changelog.Debian.gz"
            DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg}"
            PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
            COMPONENT ${comp} EXCLUDE_FROM_ALL)
  endforeach()
elseif(MI_PACKAGE_DOCS STREQUAL "rpm")
  foreach(comp runtime dev)
    install(FILES "${mi_src_dir}/debian/copyright" RENAME LICENSE
            DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/licenses/${mi_rpm_${comp}}"
            PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
            COMPONENT ${comp} EXCLUDE_FROM_ALL)
  endforeach()
elseif(MI_PACKAGE_DOCS)
  message(FATAL_ERROR "mimalloc: MI_PACKAGE_DOCS must be deb, rpm or empty, not '${MI_PACKAGE_DOCS}'")
endif()

include(CPack)
