#!/usr/bin/env bash
# Build C mimalloc from source, in the variants named, so that our builds can
# be set against C mimalloc's own in one run of bench/run.sh. See
# bench/README.md.
#
#   bench/c-mimalloc.sh [--version 2.1.7|2.3.2|3.3.2] [--variants LIST] [--build-dir DIR] [--quiet]
#
# Versions: the sources come from the Rust binding package libmimalloc-sys,
# obtained with cargo (bench/crate-src.sh: `cargo fetch` of a throw-away
# manifest, checked against the package's SHA-256, found with `cargo metadata`):
#   2.1.7  the version we re-implement (default): libmimalloc-sys 0.1.39,
#          c_src/mimalloc (mimalloc v2.1.7's CMakeLists.txt, include/ and src/
#          as released)
#   2.3.2  libmimalloc-sys 0.1.49, c_src/mimalloc/v2
#   3.3.2  libmimalloc-sys 0.1.49, c_src/mimalloc/v3
# The packages leave out mimalloc's cmake/ (and test/) folders: the files of
# cmake/ that CMakeLists.txt includes (the version numbers, join_paths) are
# written here. Debian's libmimalloc2.0 (2.0.9) is the `mi-2.0.9` column of
# run.sh and is not built from source.
# Variants (default: release,secure):
#   release   -DCMAKE_BUILD_TYPE=Release                   libmimalloc.so
#   secure    ... -DMI_SECURE=ON (level 4)                   libmimalloc-secure.so
#   secureN   ... -DCMAKE_C_FLAGS=-DMI_SECURE=N (N = 1..3)  libmimalloc.so
# Output: <build-dir>/c-mimalloc/<version>/<variant>/<lib> (build-dir default
# out/bench).
#
# Prints one `--alloc mi-<version>[-<variant>]=PATH` option per variant (no
# suffix for release) for bench/run.sh or bench/callgrind.sh; with --quiet,
# only the library paths.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
builddir=${BENCH_BUILD_DIR:-$root/out/bench}
version=2.1.7
variants=release,secure
quiet=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --version) version="$2"; shift 2 ;;
    --variants) variants="$2"; shift 2 ;;
    --build-dir) builddir="$2"; shift 2 ;;
    --quiet) quiet=1; shift ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "c-mimalloc.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

case "$version" in
  2.1.7)
    crate=libmimalloc-sys crate_version=0.1.39
    sha256=23aa6811d3bd4deb8a84dde645f943476d13b248d818edcf8ce0b2f37f036b44
    subdir=c_src/mimalloc
    header_version=217 ;;
  2.3.2)
    crate=libmimalloc-sys crate_version=0.1.49
    sha256=6a45a52f43e1c16f667ccfe4dd8c85b7f7c204fd5e3bf46c5b0db9a5c3c0b8e9
    subdir=c_src/mimalloc/v2
    header_version=20302 ;;
  3.3.2)
    crate=libmimalloc-sys crate_version=0.1.49
    sha256=6a45a52f43e1c16f667ccfe4dd8c85b7f7c204fd5e3bf46c5b0db9a5c3c0b8e9
    subdir=c_src/mimalloc/v3
    header_version=30302 ;;
  *) echo "c-mimalloc.sh: unknown version $version (2.1.7, 2.3.2 or 3.3.2)" >&2; exit 2 ;;
esac

command -v cmake >/dev/null || { echo "c-mimalloc.sh: cmake is needed" >&2; exit 1; }
dir=$builddir/c-mimalloc/$version
src=$dir/src
mkdir -p "$dir"
if [[ ! -f "$src/.complete" ]]; then
  # Build from a copy: cargo's cache is cargo's, and cmake/ is added below.
  "$here/crate-src.sh" --build-dir "$builddir" --copy "$subdir" "$src" \
    "$crate" "$crate_version" "$sha256" >/dev/null
  got=$(awk '$1 == "#define" && $2 == "MI_MALLOC_VERSION" { print $3 }' "$src/include/mimalloc.h")
  if [[ "$got" != "$header_version" ]]; then
    echo "c-mimalloc.sh: $crate $crate_version/$subdir is mimalloc version '$got', expected $header_version" >&2
    exit 1
  fi
  IFS=. read -r major minor patch <<<"$version"
  # CMakeLists.txt includes cmake/mimalloc-config-version.cmake (the version
  # numbers) and cmake/JoinPaths.cmake (join_paths(), for the pkg-config file);
  # the install rules name cmake/mimalloc-config.cmake.
  mkdir -p "$src/cmake"
  cat >"$src/cmake/mimalloc-config-version.cmake" <<EOF
set(mi_version_major $major)
set(mi_version_minor $minor)
set(mi_version_patch $patch)
set(mi_version \${mi_version_major}.\${mi_version_minor})
EOF
  cat >"$src/cmake/JoinPaths.cmake" <<'EOF'
function(join_paths joined_path first_path_segment)
  set(temp_path "${first_path_segment}")
  foreach(current_segment IN LISTS ARGN)
    set(temp_path "${temp_path}/${current_segment}")
  endforeach()
  set(${joined_path} "${temp_path}" PARENT_SCOPE)
endfunction()
EOF
  : >"$src/cmake/mimalloc-config.cmake"
  echo "$crate $crate_version $subdir" >"$src/.complete"
fi

out=()
IFS=, read -r -a wanted <<<"$variants"
for variant in "${wanted[@]}"; do
  args=(-DCMAKE_BUILD_TYPE=Release -DMI_BUILD_TESTS=OFF -DMI_BUILD_STATIC=OFF -DMI_BUILD_OBJECT=OFF)
  lib=libmimalloc.so
  case "$variant" in
    release) ;;
    secure) args+=(-DMI_SECURE=ON); lib=libmimalloc-secure.so ;;
    secure[1-3]) args+=("-DCMAKE_C_FLAGS=-DMI_SECURE=${variant#secure}") ;;
    *) echo "c-mimalloc.sh: unknown variant $variant" >&2; exit 2 ;;
  esac
  bdir=$dir/$variant
  if [[ ! -f "$bdir/$lib" ]]; then
    echo "building C mimalloc $version ($variant; log in $bdir.log)" >&2
    { cmake -S "$src" -B "$bdir" "${args[@]}" && cmake --build "$bdir" -j"$(nproc)"; } \
      >"$bdir.log" 2>&1 || {
      echo "c-mimalloc.sh: build failed, see $bdir.log" >&2
      exit 1
    }
  fi
  if [[ $quiet -eq 1 ]]; then
    out+=("$bdir/$lib")
  else
    name=mi-$version
    [[ $variant == release ]] || name+=-$variant
    out+=("--alloc $name=$bdir/$lib")
  fi
done
echo "${out[*]}"
