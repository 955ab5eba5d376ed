# mimalloc-rust-build.cmake -- build the Rust core with cargo and turn the Rust static
# library into one relocatable object that exports exactly mimalloc's symbols.
#
#   cmake -DMI_PARAMS=<params.cmake> -P mimalloc-rust-build.cmake
#
# MI_PARAMS is written by the top-level CMakeLists.txt (file(GENERATE)) and sets:
#   MI_CARGO             path of cargo
#   MI_CARGO_ARGS        arguments after `cargo` (rustc -p mimalloc-c --profile ...)
#   MI_CARGO_TARGET_DIR  CARGO_TARGET_DIR (inside the CMake build directory)
#   MI_RUST_ARCHIVE      the static library cargo produces
#   MI_RUST_CRATES       regular expression matching the archive members of our own
#                        crates (taken in whole, so their constructors survive)
#   MI_EXPORTS           file with the names to keep global, one per line
#   MI_STUB_OBJECTS      extra objects to link in (see mimalloc-rust-stubs.c)
#   MI_AR, MI_LD, MI_OBJCOPY, MI_READELF   binutils
#   MI_OUTPUT            the object to produce
#
# Steps:
#  1. cargo builds `libmimalloc_c.a`; rustc also writes the native libraries that a
#     static link needs (`--print native-static-libs=`) next to it.
#  2. `ld -r` links our crates' members in whole, plus whatever they need from `core`
#     and `compiler_builtins` (pulled from the archive on demand, with every exported
#     name as a root), into one object: the whole library, constructor included.
#  3. `objcopy --keep-global-symbols` makes every symbol local except the exported
#     names (and renames COMDAT groups), so a program that also links other Rust code
#     meets no duplicate symbols,
#     and drops LLVM's embedded bitcode/address-significance sections (GNU tools with
#     an LTO plugin choke on the former; the latter goes stale when symbols change).
# The shared library, the static library and mimalloc.o are all made from the result.

cmake_minimum_required(VERSION 3.18)

if(NOT MI_PARAMS OR NOT EXISTS "${MI_PARAMS}")
  message(FATAL_ERROR "mimalloc-rust-build: MI_PARAMS not given or missing")
endif()
include("${MI_PARAMS}")

function(mi_run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmdline "${ARGN}")
    message(FATAL_ERROR "mimalloc-rust-build: ${what} failed (${rc}):\n  ${cmdline}")
  endif()
endfunction()

# 1. cargo
set(ENV{CARGO_TARGET_DIR} "${MI_CARGO_TARGET_DIR}")
mi_run("cargo" "${MI_CARGO}" ${MI_CARGO_ARGS})
if(NOT EXISTS "${MI_RUST_ARCHIVE}")
  message(FATAL_ERROR "mimalloc-rust-build: cargo succeeded but ${MI_RUST_ARCHIVE} does not exist")
endif()

# 2. select and extract our own crates' members
set(work "${MI_OUTPUT}.members")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")
execute_process(COMMAND "${MI_AR}" t "${MI_RUST_ARCHIVE}"
                OUTPUT_VARIABLE members RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mimalloc-rust-build: cannot list ${MI_RUST_ARCHIVE}")
endif()
string(REPLACE "\n" ";" members "${members}")
set(ours)
foreach(m IN LISTS members)
  if(m MATCHES "${MI_RUST_CRATES}")
    list(APPEND ours "${m}")
  endif()
endforeach()
set(ours_unique ${ours})
list(REMOVE_DUPLICATES ours_unique)
list(LENGTH ours n_ours)
list(LENGTH ours_unique n_unique)

set(roots)
file(STRINGS "${MI_EXPORTS}" exports)
foreach(sym IN LISTS exports)
  list(APPEND roots "-u" "${sym}")
endforeach()

set(combined "${MI_OUTPUT}.combined.o")
if(n_ours EQUAL 0 OR NOT n_ours EQUAL n_unique)
  # unexpected member names: take the whole archive (larger, but just as correct)
  message(STATUS "mimalloc-rust-build: taking all of ${MI_RUST_ARCHIVE}")
  mi_run("ld -r" "${MI_LD}" -r -o "${combined}" ${roots} ${MI_STUB_OBJECTS}
         --whole-archive "${MI_RUST_ARCHIVE}" --no-whole-archive)
else()
  execute_process(COMMAND "${MI_AR}" x "${MI_RUST_ARCHIVE}" ${ours}
                  WORKING_DIRECTORY "${work}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mimalloc-rust-build: cannot extract members of ${MI_RUST_ARCHIVE}")
  endif()
  set(objs)
  foreach(m IN LISTS ours)
    list(APPEND objs "${work}/${m}")
  endforeach()
  mi_run("ld -r" "${MI_LD}" -r -o "${combined}" ${roots} ${objs} ${MI_STUB_OBJECTS}
         "${MI_RUST_ARCHIVE}")
endif()

# 3. symbol hygiene. COMDAT groups are deduplicated by their signature symbol across
# the whole link, even when that symbol is made local: a group of ours (e.g. the
# `DW.ref.rust_eh_personality` of a non-LTO build) would displace the same group of
# another Rust library and leave its references dangling. So such groups get a name of
# our own.
set(renames)
if(MI_READELF)
  execute_process(COMMAND "${MI_READELF}" -g -W "${combined}" OUTPUT_VARIABLE groups RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mimalloc-rust-build: readelf -g failed on ${combined}")
  endif()
  string(REPLACE "\n" ";" lines "${groups}")
  foreach(line IN LISTS lines)
    if(line MATCHES "^COMDAT group section .*\\[([^]]+)\\] contains")
      set(sig "${CMAKE_MATCH_1}")
      if(NOT sig IN_LIST exports)
        list(APPEND renames "--redefine-sym=${sig}=__mimalloc_rs.${sig}")
      endif()
    endif()
  endforeach()
endif()
mi_run("objcopy" "${MI_OBJCOPY}" ${renames}
       "--keep-global-symbols=${MI_EXPORTS}"
       --remove-section=.llvmbc --remove-section=.llvmcmd --remove-section=.llvm_addrsig
       "${combined}" "${MI_OUTPUT}.tmp")
file(RENAME "${MI_OUTPUT}.tmp" "${MI_OUTPUT}")
file(REMOVE_RECURSE "${work}" "${combined}")
