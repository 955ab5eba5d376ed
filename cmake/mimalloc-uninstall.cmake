# mimalloc-uninstall.cmake -- remove what an install of this build put on disk.
#
#   cmake -P mimalloc-uninstall.cmake -DMI_BINARY_DIR=<build dir> [-DMI_MANIFEST=<file>]
#
# (`make uninstall` / `cmake --build . --target uninstall` run it.) It removes every
# file of the install manifest that CMake wrote during the last install
# (`install_manifest.txt`, or MI_MANIFEST), honouring `DESTDIR` the same way the
# install did, and then the directories that this install created and that are empty
# now (recorded by mimalloc-install-dirs.cmake at install time). Directories that
# existed before, such as <prefix>/lib, are never removed.

cmake_minimum_required(VERSION 3.18)

if(NOT MI_BINARY_DIR)
  message(FATAL_ERROR "mimalloc-uninstall: MI_BINARY_DIR is not set")
endif()
if(NOT MI_MANIFEST)
  set(MI_MANIFEST "${MI_BINARY_DIR}/install_manifest.txt")
endif()
if(NOT EXISTS "${MI_MANIFEST}")
  message(FATAL_ERROR "mimalloc-uninstall: cannot find the install manifest ${MI_MANIFEST}: nothing was installed from this build directory")
endif()

# The manifest holds the paths without DESTDIR (CMake writes them that way).
set(destdir "$ENV{DESTDIR}")
file(STRINGS "${MI_MANIFEST}" files)
set(failed 0)
foreach(file IN LISTS files)
  set(path "${destdir}${file}")
  if(IS_SYMLINK "${path}" OR EXISTS "${path}")
    message(STATUS "Uninstalling: ${path}")
    file(REMOVE "${path}")
    if(IS_SYMLINK "${path}" OR EXISTS "${path}")
      message(SEND_ERROR "mimalloc-uninstall: could not remove ${path}")
      set(failed 1)
    endif()
  else()
    message(STATUS "Not installed (skipped): ${path}")
  endif()
endforeach()

# Directories created by the install, deepest first.
string(REGEX REPLACE "\\.txt$" "" dirs_record "${MI_MANIFEST}")
set(dirs_record "${dirs_record}-dirs.txt")
if(EXISTS "${dirs_record}")
  file(STRINGS "${dirs_record}" dirs)
  list(REMOVE_DUPLICATES dirs)
  list(SORT dirs)
  list(REVERSE dirs)
  foreach(dir IN LISTS dirs)
    set(path "${destdir}${dir}")
    if(IS_DIRECTORY "${path}" AND NOT IS_SYMLINK "${path}")
      file(GLOB entries "${path}/*" "${path}/.*")
      if(entries)
        message(STATUS "Not empty (kept): ${path}")
      else()
        message(STATUS "Removing directory: ${path}")
        file(REMOVE_RECURSE "${path}")
      endif()
    endif()
  endforeach()
endif()

if(failed)
  message(FATAL_ERROR "mimalloc-uninstall: some files could not be removed")
endif()
