#!/usr/bin/env bash
# Obtain the source of one Rust package (crate) with cargo and print the
# directory it is unpacked in. The comparison allocators that no distribution
# packages (C mimalloc 2.1.7, 2.3.2 and 3.3.2, snmalloc) are built from the C
# and C++ sources that their Rust binding crates carry. See bench/README.md.
#
#   bench/crate-src.sh [--build-dir DIR] [--copy SUBDIR DEST] NAME VERSION [SHA256]
#
# Writes a throw-away manifest that depends on exactly NAME = VERSION into
# <build-dir>/anchors/fetch-NAME-VERSION/Cargo.toml, runs `cargo fetch` on it (which
# downloads the package from cargo's default registry into cargo's cache,
# unless it is there already, and checks it against the registry's checksum),
# and finds the unpacked package with `cargo metadata` (the directory of the
# package's manifest_path). With SHA256, the checksum cargo recorded for the
# package in Cargo.lock must also be that one. Nothing is written into cargo's
# cache except by cargo itself: with --copy, the package's SUBDIR (which must
# hold a CMakeLists.txt) is copied to DEST, writable, for the caller to build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
builddir=${BENCH_BUILD_DIR:-$root/out/bench}
pos=()
copy_sub="" copy_dest=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) builddir="$2"; shift 2 ;;
    --copy) copy_sub="$2"; copy_dest="$3"; shift 3 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "crate-src.sh: unknown option $1" >&2; exit 2 ;;
    *) pos+=("$1"); shift ;;
  esac
done
[[ ${#pos[@]} -ge 2 && ${#pos[@]} -le 3 ]] || { echo "usage: crate-src.sh [--build-dir DIR] [--copy SUBDIR DEST] NAME VERSION [SHA256]" >&2; exit 2; }
name=${pos[0]} version=${pos[1]} sha256=${pos[2]:-}

command -v cargo >/dev/null || { echo "crate-src.sh: cargo is needed (to fetch $name $version)" >&2; exit 1; }
dir=$builddir/anchors/fetch-$name-$version
mkdir -p "$dir"
# A package of its own with an empty library, and its own workspace, so that
# no enclosing workspace or package is involved.
cat >"$dir/Cargo.toml.new" <<EOF
[package]
name = "bench-anchor-source"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
path = "lib.rs"

[dependencies]
$name = "=$version"

[workspace]
EOF
if ! cmp -s "$dir/Cargo.toml.new" "$dir/Cargo.toml"; then
  mv "$dir/Cargo.toml.new" "$dir/Cargo.toml"
  rm -f "$dir/Cargo.lock"
else
  rm -f "$dir/Cargo.toml.new"
fi
: >"$dir/lib.rs"

cd "$dir"
cargo fetch --manifest-path "$dir/Cargo.toml" --quiet >&2 || {
  echo "crate-src.sh: cargo fetch of $name $version failed" >&2
  exit 1
}
if [[ -n "$sha256" ]]; then
  got=$(awk -v n="$name" -v v="$version" '
      /^\[\[package\]\]/ { pn = ""; pv = "" }
      $1 == "name" { pn = $3; gsub(/"/, "", pn) }
      $1 == "version" { pv = $3; gsub(/"/, "", pv) }
      $1 == "checksum" && pn == n && pv == v { c = $3; gsub(/"/, "", c); print c }' "$dir/Cargo.lock")
  if [[ "$got" != "$sha256" ]]; then
    echo "crate-src.sh: $name $version has checksum '${got:-none}' in $dir/Cargo.lock, expected $sha256" >&2
    exit 1
  fi
fi
# The package's manifest_path; registry packages are unpacked into a directory
# named NAME-VERSION.
manifest=$(cargo metadata --format-version 1 --manifest-path "$dir/Cargo.toml" --offline 2>/dev/null |
  grep -o '"manifest_path":"[^"]*"' | sed 's/^"manifest_path":"//; s/"$//' |
  grep -F "/$name-$version/Cargo.toml" | grep -vxF "$dir/Cargo.toml" | head -n1 || true)
if [[ -z "$manifest" || ! -f "$manifest" ]]; then
  echo "crate-src.sh: cargo metadata does not show where $name $version is" >&2
  exit 1
fi
pkg=$(dirname "$manifest")
if [[ -n "$copy_sub" ]]; then
  [[ -f "$pkg/$copy_sub/CMakeLists.txt" ]] || {
    echo "crate-src.sh: $name $version has no $copy_sub/CMakeLists.txt (in $pkg)" >&2
    exit 1
  }
  rm -rf "$copy_dest"
  cp -R "$pkg/$copy_sub" "$copy_dest"
  chmod -R u+w "$copy_dest"
fi
echo "$pkg"
