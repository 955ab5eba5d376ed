# mimalloc-windows.cmake -- the Windows part of the build (included by CMakeLists.txt
# when CMAKE_SYSTEM_NAME is Windows; here: cross-built with cmake/mingw-w64-x86_64.cmake).
#
# Builds, from the same Rust core as on Linux:
#   mimalloc.dll           + libmimalloc.dll.a           the mimalloc.h API
#   mimalloc-override.dll  + libmimalloc-override.dll.a  the same, and at load it
#                          redirects the C runtime's allocation functions (msvcrt.dll,
#                          ucrtbase.dll) to mimalloc (src/win_redirect.rs); with
#                          MI_OVERRIDE=ON (the default)
# Debug/secure builds get the same suffixes as on Linux (mimalloc-debug.dll,
# mimalloc-override-debug.dll, ...).
#
# The Rust core is a staticlib built by cargo for MI_RUST_TARGET (x86_64-pc-windows-gnu)
# from a small manifest generated in the build directory (its own workspace, so its
# lock file and target directory stay out of the source tree). When the Rust toolchain
# has no standard library for that target, `core` is built from the toolchain's library
# sources (`-Zbuild-std`, with RUSTC_BOOTSTRAP=1), offline from the crates vendored beside
# them when they are there (Debian's rust-web-src/rust-src ship library/vendor).
# Variables from CMakeLists.txt: mi_src_dir, mi_bin_dir, mi_features, mi_basename,
# mi_build_type, mi_cargo_profile(_dir), mi_version_*, mi_defines, mi_cflags.

if(NOT MI_RUST_TARGET)
  set(MI_RUST_TARGET "x86_64-pc-windows-gnu" CACHE STRING "Rust target triple")
endif()
if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$" AND NOT MI_RUST_TARGET MATCHES "^x86_64")
  message(FATAL_ERROR "mimalloc: the Windows build supports x86-64 only")
endif()

# --- a Rust toolchain that can build for the target -----------------------------------

# candidates: cargo/rustc from PATH (rustup or not), then the distribution's /usr/bin ones
set(mi_rust_candidates)
find_program(mi_path_cargo cargo HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin" NO_CMAKE_FIND_ROOT_PATH)
find_program(mi_path_rustc rustc HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin" NO_CMAKE_FIND_ROOT_PATH)
if(MI_CARGO_EXECUTABLE AND MI_RUSTC_EXECUTABLE)
  list(APPEND mi_rust_candidates "${MI_CARGO_EXECUTABLE}|${MI_RUSTC_EXECUTABLE}")
endif()
if(mi_path_cargo AND mi_path_rustc)
  list(APPEND mi_rust_candidates "${mi_path_cargo}|${mi_path_rustc}")
endif()
if(EXISTS /usr/bin/cargo AND EXISTS /usr/bin/rustc)
  list(APPEND mi_rust_candidates "/usr/bin/cargo|/usr/bin/rustc")
endif()
set(mi_win_cargo "")
foreach(pair IN LISTS mi_rust_candidates)
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 cargo)
  list(GET pair 1 rustc)
  execute_process(COMMAND "${rustc}" --print target-libdir --target ${MI_RUST_TARGET}
                  OUTPUT_VARIABLE libdir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  file(GLOB have_core "${libdir}/libcore-*.rlib")
  if(rc EQUAL 0 AND have_core)
    set(mi_win_cargo "${cargo}")
    set(mi_win_rustc "${rustc}")
    set(mi_win_build_std OFF)
    break()
  endif()
  execute_process(COMMAND "${rustc}" --print sysroot
                  OUTPUT_VARIABLE sysroot OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0 AND EXISTS "${sysroot}/lib/rustlib/src/rust/library/core/Cargo.toml")
    set(mi_win_cargo "${cargo}")
    set(mi_win_rustc "${rustc}")
    set(mi_win_build_std ON)
    set(mi_win_library "${sysroot}/lib/rustlib/src/rust/library")
    break()
  endif()
endforeach()
if(NOT mi_win_cargo)
  message(FATAL_ERROR "mimalloc: no Rust toolchain can build for ${MI_RUST_TARGET}: install its standard library (rustup target add ${MI_RUST_TARGET}) or the library sources (rustup component add rust-src; Debian: rust-web-src or rust-src)")
endif()
if(mi_win_build_std)
  message(STATUS "Rust for ${MI_RUST_TARGET}: ${mi_win_rustc}, building core from ${mi_win_library} (-Zbuild-std)")
else()
  message(STATUS "Rust for ${MI_RUST_TARGET}: ${mi_win_rustc} (installed standard library)")
endif()

set(mi_opt_level 3)
if(mi_build_type STREQUAL "minsizerel")
  set(mi_opt_level "\"s\"")
endif()

set(mi_rust_globs "${mi_src_dir}/Cargo.toml")
foreach(dir src cabi)
  list(APPEND mi_rust_globs "${mi_src_dir}/${dir}/*.rs" "${mi_src_dir}/${dir}/*.toml")
endforeach()
file(GLOB_RECURSE mi_rust_inputs CONFIGURE_DEPENDS ${mi_rust_globs})

# the exported names: the mimalloc.h API (the standard names of Linux are not exported:
# on Windows the override DLL patches the C runtime instead)
file(STRINGS "${mi_src_dir}/cmake/mimalloc-exports-api.txt" mi_exports)

set(mi_win_features ${mi_features})
list(REMOVE_ITEM mi_win_features override)

# mi_add_windows_dll(<target> <output-name> <features...>)
function(mi_add_windows_dll target output_name)
  set(features capi ${ARGN} shared_lib)
  set(crate_dir "${mi_bin_dir}/cargo-${target}")
  set(target_dir "${crate_dir}/target")
  set(archive "${target_dir}/${MI_RUST_TARGET}/${mi_cargo_profile_dir}/libmimalloc_c.a")
  set(feature_list "")
  foreach(f IN LISTS features)
    string(APPEND feature_list "\"${f}\", ")
  endforeach()
  file(MAKE_DIRECTORY "${crate_dir}/.cargo")
  set(manifest "# generated by CMake (cmake/mimalloc-windows.cmake): the Rust core of ${output_name}.dll
[package]
name = \"mimalloc-windows-${target}\"
version = \"${mi_version_major}.${mi_version_minor}.${mi_version_patch}\"
edition = \"2021\"
publish = false

[workspace]

[lib]
name = \"mimalloc_c\"
path = \"${mi_src_dir}/cabi/src/lib.rs\"
crate-type = [\"staticlib\"]

[dependencies]
mimalloc-rs = { path = \"${mi_src_dir}\", default-features = false, features = [${feature_list}] }

[profile.release]
panic = \"abort\"
opt-level = ${mi_opt_level}
codegen-units = 1
lto = true
debug = 1

[profile.dev]
panic = \"abort\"
opt-level = 1
")
  file(WRITE "${crate_dir}/Cargo.toml.in" "${manifest}")
  configure_file("${crate_dir}/Cargo.toml.in" "${crate_dir}/Cargo.toml" COPYONLY)
  set(config "# generated by CMake\n")
  set(cargo_args build --manifest-path "${crate_dir}/Cargo.toml" --lib --profile ${mi_cargo_profile}
                 --target ${MI_RUST_TARGET})
  if(mi_win_build_std)
    list(APPEND cargo_args -Zbuild-std=core,compiler_builtins -Zbuild-std-features=compiler-builtins-mem)
    if(EXISTS "${mi_win_library}/vendor")
      # the crates the standard library's workspace needs, as a directory source
      string(APPEND config "[source.crates-io]\nreplace-with = \"rust-library-vendor\"\n[source.rust-library-vendor]\ndirectory = \"${mi_win_library}/vendor\"\n")
      list(APPEND cargo_args --offline)
    endif()
  endif()
  if(MI_CARGO_JOBS)
    list(APPEND cargo_args -j ${MI_CARGO_JOBS})
  endif()
  if(MI_CARGO_FLAGS)
    separate_arguments(extra UNIX_COMMAND "${MI_CARGO_FLAGS}")
    list(APPEND cargo_args ${extra})
  endif()
  file(WRITE "${crate_dir}/.cargo/config.toml.in" "${config}")
  configure_file("${crate_dir}/.cargo/config.toml.in" "${crate_dir}/.cargo/config.toml" COPYONLY)

  add_custom_command(
    OUTPUT "${archive}"
    COMMAND "${CMAKE_COMMAND}" -E env --unset=MAKEFLAGS --unset=MFLAGS "RUSTC=${mi_win_rustc}" RUSTC_BOOTSTRAP=1
            "CARGO_TARGET_DIR=${target_dir}" "${mi_win_cargo}" ${cargo_args}
    DEPENDS ${mi_rust_inputs} "${crate_dir}/Cargo.toml" "${crate_dir}/.cargo/config.toml"
    WORKING_DIRECTORY "${crate_dir}"
    COMMENT "Building the Rust core of ${output_name}.dll with cargo (${MI_RUST_TARGET}, ${mi_cargo_profile} profile, features: ${features})"
    USES_TERMINAL
    VERBATIM)
  add_custom_target(${target}-rust DEPENDS "${archive}")

  # exports: a module-definition file
  set(def "${mi_bin_dir}/${output_name}.def")
  set(def_text "LIBRARY ${output_name}.dll\nEXPORTS\n")
  foreach(sym IN LISTS mi_exports)
    string(APPEND def_text "  ${sym}\n")
  endforeach()
  file(WRITE "${def}.in" "${def_text}")
  configure_file("${def}.in" "${def}" COPYONLY)

  add_library(${target} SHARED "${def}")
  add_dependencies(${target} ${target}-rust)
  set_target_properties(${target} PROPERTIES
    LINKER_LANGUAGE C
    PREFIX ""
    OUTPUT_NAME "${output_name}"
    IMPORT_PREFIX "lib"
    IMPORT_SUFFIX ".dll.a"
    LINK_DEPENDS "${archive}")
  # mingw's DLL start-up code calls our DllMain (src/windll.rs); the core imports
  # kernel32 and bcrypt (and msvcrt for errno)
  target_link_libraries(${target} PRIVATE "${archive}" bcrypt kernel32)
  if(NOT mi_build_type STREQUAL "debug" AND NOT mi_build_type STREQUAL "relwithdebinfo")
    target_link_options(${target} PRIVATE -s)
  endif()
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${mi_src_dir}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endfunction()

set(CMAKE_RUNTIME_OUTPUT_DIRECTORY "${mi_bin_dir}")
set(CMAKE_LIBRARY_OUTPUT_DIRECTORY "${mi_bin_dir}")
set(CMAKE_ARCHIVE_OUTPUT_DIRECTORY "${mi_bin_dir}")

set(mi_win_targets)
if(MI_BUILD_SHARED)
  mi_add_windows_dll(mimalloc "${mi_basename}" ${mi_win_features})
  list(APPEND mi_win_targets mimalloc)
  if(MI_OVERRIDE)
    string(REPLACE "mimalloc" "mimalloc-override" mi_override_name "${mi_basename}")
    mi_add_windows_dll(mimalloc-override "${mi_override_name}" ${mi_win_features} override)
    list(APPEND mi_win_targets mimalloc-override)
  endif()
endif()
if(MI_BUILD_STATIC OR MI_BUILD_OBJECT)
  message(STATUS "mimalloc: the static library and mimalloc.o are not built for Windows (only the DLLs)")
endif()

message(STATUS "Windows DLLs     : ${mi_win_targets}")

if(mi_win_targets)
  install(TARGETS ${mi_win_targets}
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
  install(FILES include/mimalloc.h include/mimalloc-override.h include/mimalloc-new-delete.h
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
endif()

if(MI_BUILD_TESTS AND TARGET mimalloc)
  enable_testing()
  add_subdirectory(test/windows)
endif()
