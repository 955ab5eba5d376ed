# mimalloc-install-dirs.cmake -- run at the start of `make install` (install(CODE)).
#
# Records which of the directories the install writes into do not exist yet, so that
# `make uninstall` (mimalloc-uninstall.cmake) can remove exactly the directories the
# install created, and no directory that was there before.
#
# Input variables (set by the install code that includes this file):
#   MI_BINARY_DIR     the build directory (where the install manifest is written)
#   MI_INSTALL_DIRS   destination directories, relative to the prefix or absolute
# and CMake's install-time CMAKE_INSTALL_PREFIX, CMAKE_INSTALL_COMPONENT and $ENV{DESTDIR}.
# The record holds paths without DESTDIR, like the install manifest.

cmake_policy(PUSH)
cmake_policy(VERSION 3.18)

if(CMAKE_INSTALL_COMPONENT)
  set(_mi_record "${MI_BINARY_DIR}/install_manifest_${CMAKE_INSTALL_COMPONENT}-dirs.txt")
else()
  set(_mi_record "${MI_BINARY_DIR}/install_manifest-dirs.txt")
endif()

set(_mi_destdir "$ENV{DESTDIR}")
get_filename_component(_mi_prefix "${CMAKE_INSTALL_PREFIX}" ABSOLUTE)

# every destination directory and its parents up to (and including) the prefix
set(_mi_candidates)
foreach(_mi_dir IN LISTS MI_INSTALL_DIRS)
  if(IS_ABSOLUTE "${_mi_dir}")
    set(_mi_full "${_mi_dir}")
  else()
    set(_mi_full "${_mi_prefix}/${_mi_dir}")
  endif()
  get_filename_component(_mi_full "${_mi_full}" ABSOLUTE)
  while(TRUE)
    list(APPEND _mi_candidates "${_mi_full}")
    string(FIND "${_mi_full}/" "${_mi_prefix}/" _mi_pos)
    if(NOT _mi_pos EQUAL 0 OR _mi_full STREQUAL _mi_prefix)
      break()
    endif()
    get_filename_component(_mi_parent "${_mi_full}" DIRECTORY)
    if(_mi_parent STREQUAL _mi_full)
      break()
    endif()
    set(_mi_full "${_mi_parent}")
  endwhile()
endforeach()
list(REMOVE_DUPLICATES _mi_candidates)

# keep what an earlier install into the same place created (and is still there)
set(_mi_created)
if(EXISTS "${_mi_record}")
  file(STRINGS "${_mi_record}" _mi_old)
  foreach(_mi_dir IN LISTS _mi_old)
    if(_mi_dir IN_LIST _mi_candidates AND IS_DIRECTORY "${_mi_destdir}${_mi_dir}")
      list(APPEND _mi_created "${_mi_dir}")
    endif()
  endforeach()
endif()
foreach(_mi_dir IN LISTS _mi_candidates)
  if(NOT EXISTS "${_mi_destdir}${_mi_dir}")
    list(APPEND _mi_created "${_mi_dir}")
  endif()
endforeach()
list(REMOVE_DUPLICATES _mi_created)

string(REPLACE ";" "\n" _mi_content "${_mi_created}")
file(WRITE "${_mi_record}" "${_mi_content}\n")
cmake_policy(POP)
