#!/usr/bin/env bash
# Build snmalloc's LD_PRELOAD library (libsnmallocshim.so) from source, for
# the `snmalloc` column of bench/run.sh. See bench/README.md.
#
#   bench/snmalloc.sh [--variants release,checks] [--build-dir DIR] [--quiet]
#
# The source is the snmalloc tree (upstream/) carried by the Rust binding
# package snmalloc-sys 0.7.6, obtained with cargo (bench/crate-src.sh: `cargo
# fetch` of a throw-away manifest, checked against the package's SHA-256,
# found with `cargo metadata`), and built with snmalloc's own CMake build:
#   cmake -DCMAKE_BUILD_TYPE=Release -DSNMALLOC_BUILD_TESTING=OFF
#   cmake --build . --target snmallocshim     (and snmallocshim-checks)
# Variants (default: release):
#   release  libsnmallocshim.so         the fast configuration
#   checks   libsnmallocshim-checks.so  with SNMALLOC_CHECK_CLIENT (snmalloc's hardening)
# Output: <build-dir>/snmalloc/release/<lib> (build-dir default out/bench).
#
# Prints one `--alloc snmalloc[-checks]=PATH` option per variant for
# bench/run.sh or bench/callgrind.sh; with --quiet, only the library paths.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
builddir=${BENCH_BUILD_DIR:-$root/out/bench}
variants=release
quiet=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --variants) variants="$2"; shift 2 ;;
    --build-dir) builddir="$2"; shift 2 ;;
    --quiet) quiet=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "snmalloc.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

crate=snmalloc-sys crate_version=0.7.6
sha256=f09c93c55f9a2b8dab75738a83c771231c5f408af65b8657433fe5bc93cc76cb
subdir=upstream

command -v cmake >/dev/null || { echo "snmalloc.sh: cmake is needed" >&2; exit 1; }
command -v "${CXX:-c++}" >/dev/null || { echo "snmalloc.sh: a C++ compiler is needed" >&2; exit 1; }
dir=$builddir/snmalloc
src=$dir/src
mkdir -p "$dir"
if [[ ! -f "$src/.complete" ]]; then
  "$here/crate-src.sh" --build-dir "$builddir" --copy "$subdir" "$src" \
    "$crate" "$crate_version" "$sha256" >/dev/null
  echo "$crate $crate_version $subdir" >"$src/.complete"
fi

# One build tree; each variant is one target of it.
bdir=$dir/release
targets=()
libs=()
names=()
IFS=, read -r -a wanted <<<"$variants"
for variant in "${wanted[@]}"; do
  case "$variant" in
    release) targets+=(snmallocshim); libs+=("$bdir/libsnmallocshim.so"); names+=(snmalloc) ;;
    checks) targets+=(snmallocshim-checks); libs+=("$bdir/libsnmallocshim-checks.so"); names+=(snmalloc-checks) ;;
    *) echo "snmalloc.sh: unknown variant $variant (release or checks)" >&2; exit 2 ;;
  esac
done
missing=()
for i in "${!targets[@]}"; do
  [[ -f "${libs[$i]}" ]] || missing+=("${targets[$i]}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "building snmalloc (${missing[*]}; log in $bdir.log)" >&2
  { cmake -S "$src" -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DSNMALLOC_BUILD_TESTING=OFF \
        -DSNMALLOC_STATIC_LIBRARY=OFF &&
      cmake --build "$bdir" -j"$(nproc)" --target "${missing[@]}"; } >"$bdir.log" 2>&1 || {
    echo "snmalloc.sh: build failed, see $bdir.log" >&2
    exit 1
  }
fi

out=()
for i in "${!targets[@]}"; do
  if [[ $quiet -eq 1 ]]; then out+=("${libs[$i]}"); else out+=("--alloc ${names[$i]}=${libs[$i]}"); fi
done
echo "${out[*]}"
