# join_paths(<var> <base> <path>...): join path components the way pkg-config files
# need them: an absolute component replaces what came before it, so an absolute
# CMAKE_INSTALL_LIBDIR (e.g. /usr/lib64) is used as it is instead of ${prefix}/...
function(join_paths joined_path first_path_segment)
  set(temp_path "${first_path_segment}")
  foreach(current_segment IN LISTS ARGN)
    if(NOT ("${current_segment}" STREQUAL ""))
      if(IS_ABSOLUTE "${current_segment}")
        set(temp_path "${current_segment}")
      else()
        set(temp_path "${temp_path}/${current_segment}")
      endif()
    endif()
  endforeach()
  set(${joined_path} "${temp_path}" PARENT_SCOPE)
endfunction()
