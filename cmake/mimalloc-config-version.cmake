# mimalloc-config-version.cmake -- version of this mimalloc (2.1.7) and the rule that
# decides which `find_package(mimalloc <version>)` requests it satisfies.
#
# Also included by the top-level CMakeLists.txt for the version variables.
#
# The rule is the one of mimalloc 2.1.7: only the major and minor numbers count
# (the patch number of a request is ignored), the major number must be equal and the
# requested minor number must not be newer:
#   find_package(mimalloc)            found     find_package(mimalloc 2.1.7)  found (exact)
#   find_package(mimalloc 2)          found     find_package(mimalloc 2.0)    found (compatible)
#   find_package(mimalloc 2.1)        found     find_package(mimalloc 2.2)    not found
#   find_package(mimalloc 3.0)        not found find_package(mimalloc 1.8)    not found
# and the package reports `mimalloc_VERSION` 2.1 (major.minor, like the directory names).

set(mi_version_major 2)
set(mi_version_minor 1)
set(mi_version_patch 7)
set(mi_version ${mi_version_major}.${mi_version_minor})

set(PACKAGE_VERSION ${mi_version})
if(PACKAGE_FIND_VERSION_MAJOR)
  if("${PACKAGE_FIND_VERSION_MAJOR}" EQUAL "${mi_version_major}")
    if("${PACKAGE_FIND_VERSION_MINOR}" EQUAL "${mi_version_minor}")
      set(PACKAGE_VERSION_EXACT TRUE)
    elseif("${PACKAGE_FIND_VERSION_MINOR}" LESS "${mi_version_minor}")
      set(PACKAGE_VERSION_COMPATIBLE TRUE)
    else()
      set(PACKAGE_VERSION_UNSUITABLE TRUE)
    endif()
  else()
    set(PACKAGE_VERSION_UNSUITABLE TRUE)
  endif()
endif()
