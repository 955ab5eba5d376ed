# check-rust-neighbour.cmake -- link libmimalloc.a (and mimalloc.o) into one program
# together with another Rust static library (rust-neighbour/neighbour.rs, built with
# rustc): no duplicate symbols, both work.
#
#   cmake -DMI_RUSTC=<rustc> -DMI_CC=<cc> -DMI_SRC=<test/rust-neighbour> -DMI_WORK=<dir>
#         -DMI_INCLUDE=<include dir> [-DMI_STATIC_LIB=<libmimalloc.a>] [-DMI_OBJECT=<mimalloc.o>]
#         -DMI_LIBS=<lib>|<lib> [-DMI_OVERRIDE=OFF] [-DMI_TRACK_ASAN=ON] -P check-rust-neighbour.cmake

cmake_minimum_required(VERSION 3.18)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${what}: ${out}${err}")
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "rust-neighbour: ${what} failed:\n  ${cmd}")
  endif()
endfunction()

file(REMOVE_RECURSE "${MI_WORK}")
file(MAKE_DIRECTORY "${MI_WORK}")
run("rustc" "${MI_RUSTC}" --edition 2021 --crate-type staticlib -O --crate-name neighbour
    "--print=native-static-libs=${MI_WORK}/native.txt"
    -o "${MI_WORK}/libneighbour.a" "${MI_SRC}/neighbour.rs")
file(READ "${MI_WORK}/native.txt" native)
string(STRIP "${native}" native)
separate_arguments(native UNIX_COMMAND "${native}")
string(REPLACE "|" ";" libs "${MI_LIBS}")
set(lib_flags)
foreach(lib IN LISTS libs)
  if(lib MATCHES "^-" OR IS_ABSOLUTE "${lib}")
    list(APPEND lib_flags "${lib}")
  else()
    list(APPEND lib_flags "-l${lib}")
  endif()
endforeach()
set(cflags "-I${MI_INCLUDE}")
if(MI_OVERRIDE STREQUAL "OFF")
  list(APPEND cflags -DMI_NO_OVERRIDE)
endif()
if(MI_TRACK_ASAN)
  list(APPEND cflags -fsanitize=address)
endif()

foreach(kind STATIC_LIB OBJECT)
  if(MI_${kind})
    set(exe "${MI_WORK}/neighbour-${kind}")
    run("link with ${MI_${kind}}" "${MI_CC}" ${cflags} -o "${exe}" "${MI_SRC}/main.c"
        "${MI_${kind}}" "${MI_WORK}/libneighbour.a" ${lib_flags} ${native})
    run("run ${exe}" "${exe}")
  endif()
endforeach()
