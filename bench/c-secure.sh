#!/usr/bin/env bash
# Build Debian's C mimalloc 2.0.9 from its source tarball, in release and secure
# (-DMI_SECURE=ON) variants, so that the cost of our secure build can be set
# against the cost of C mimalloc's in one run of bench/run.sh. Debian ships only
# the release library (libmimalloc2.0). See bench/README.md.
#
#   bench/c-secure.sh [--build-dir DIR]     (default out/bench)
#
# Prints the two --alloc options to pass to bench/run.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
builddir=${BENCH_BUILD_DIR:-$root/out/bench}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) builddir="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "c-secure.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

version=2.0.9+ds
tarball=mimalloc_$version.orig.tar.xz
url=http://deb.debian.org/debian/pool/main/m/mimalloc/$tarball
sha256=cbc9d207ff105ad1f0cb739c378076143a6452b8d0624309cea0abfb040e972b
dir=$builddir/c-mimalloc
mkdir -p "$dir"

if [[ ! -s "$dir/$tarball" ]]; then
  echo "downloading $url" >&2
  curl -sSfL -o "$dir/$tarball.part" "$url"
  mv "$dir/$tarball.part" "$dir/$tarball"
fi
echo "$sha256  $dir/$tarball" | sha256sum -c --quiet - || {
  echo "c-secure.sh: checksum mismatch for $tarball" >&2
  exit 1
}
src=$dir/mimalloc-$version
[[ -d "$src" ]] || tar -C "$dir" -xf "$dir/$tarball"

for variant in release secure; do
  secure=OFF
  [[ $variant == secure ]] && secure=ON
  cmake -S "$src" -B "$dir/$variant" -DCMAKE_BUILD_TYPE=Release -DMI_SECURE=$secure \
    -DMI_BUILD_TESTS=OFF -DMI_BUILD_STATIC=OFF -DMI_BUILD_OBJECT=OFF >"$dir/$variant.log" 2>&1
  cmake --build "$dir/$variant" -j"$(nproc)" >>"$dir/$variant.log" 2>&1 || {
    echo "c-secure.sh: build failed, see $dir/$variant.log" >&2
    exit 1
  }
done
echo "--alloc c-release=$dir/release/libmimalloc.so --alloc c-secure=$dir/secure/libmimalloc-secure.so"
