#!/usr/bin/env bash
# Build C mimalloc from source, in the variants named, so that our builds can
# be set against C mimalloc's own in one run of bench/run.sh. See
# bench/README.md.
#
#   bench/c-mimalloc.sh [--version 2.1.7|2.0.9] [--variants LIST] [--build-dir DIR] [--quiet]
#
# Versions (sources checked against their SHA-256):
#   2.1.7  the version we re-implement (default). GitHub is out of reach here and
#          Debian has no 2.1 source, so the source comes from the crates.io
#          package libmimalloc-sys 0.1.39, which carries mimalloc v2.1.7's
#          CMakeLists.txt, include/ and src/ unchanged (without cmake/ and
#          test/: the two small CMake files the build needs are written here).
#   2.0.9  Debian bookworm's source tarball (the release library is also
#          Debian's libmimalloc2.0, the `mi-2.0.9` column of run.sh).
# Variants (default: release,secure):
#   release   -DCMAKE_BUILD_TYPE=Release                   libmimalloc.so
#   secure    ... -DMI_SECURE=ON (level 4)                   libmimalloc-secure.so
#   secureN   ... -DCMAKE_C_FLAGS=-DMI_SECURE=N (N = 1..3)  libmimalloc.so
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
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "c-mimalloc.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

case "$version" in
  2.1.7)
    archive=libmimalloc-sys-0.1.39.crate
    url=https://static.crates.io/crates/libmimalloc-sys/$archive
    sha256=23aa6811d3bd4deb8a84dde645f943476d13b248d818edcf8ce0b2f37f036b44
    subdir=libmimalloc-sys-0.1.39/c_src/mimalloc ;;
  2.0.9)
    archive=mimalloc_2.0.9+ds.orig.tar.xz
    url=http://deb.debian.org/debian/pool/main/m/mimalloc/$archive
    sha256=cbc9d207ff105ad1f0cb739c378076143a6452b8d0624309cea0abfb040e972b
    subdir=mimalloc-2.0.9+ds ;;
  *) echo "c-mimalloc.sh: unknown version $version (2.1.7 or 2.0.9)" >&2; exit 2 ;;
esac

command -v cmake >/dev/null || { echo "c-mimalloc.sh: cmake is needed" >&2; exit 1; }
dir=$builddir/c-mimalloc/$version
mkdir -p "$dir"
if [[ ! -s "$dir/$archive" ]]; then
  echo "downloading $url" >&2
  curl -sSfL -o "$dir/$archive.part" "$url"
  mv "$dir/$archive.part" "$dir/$archive"
fi
echo "$sha256  $dir/$archive" | sha256sum -c --quiet - || {
  echo "c-mimalloc.sh: checksum mismatch for $archive" >&2
  exit 1
}
src=$dir/$subdir
if [[ ! -f "$src/CMakeLists.txt" ]]; then
  tar -C "$dir" -xf "$dir/$archive"
fi
if [[ $version == 2.1.7 && ! -f "$src/cmake/JoinPaths.cmake" ]]; then
  # The package leaves out mimalloc's cmake/ folder; its CMakeLists.txt includes
  # the version file and calls join_paths() for the pkg-config file.
  mkdir -p "$src/cmake"
  cat >"$src/cmake/mimalloc-config-version.cmake" <<'EOF'
set(mi_version_major 2)
set(mi_version_minor 1)
set(mi_version_patch 7)
set(mi_version ${mi_version_major}.${mi_version_minor})
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
