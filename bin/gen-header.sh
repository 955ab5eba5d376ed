#!/bin/sh
# gen-header.sh -- generate include/mimalloc.h with cbindgen from the C ABI layer
# (src/capi.rs) and cbindgen.toml, or check that the committed header is what
# cbindgen generates.
#
#   bin/gen-header.sh           regenerate include/mimalloc.h
#   bin/gen-header.sh --check   regenerate into a temporary file and compare; exit 1 on
#                               a difference, 77 (ctest: skipped) if cbindgen is missing
#
# cbindgen is not needed to build or install the library (the header is committed).
# Install it with `cargo install cbindgen --locked --version 0.29.4`; with
# MI_INSTALL_CBINDGEN=1 (as CI sets) this script installs it itself.
#
# The output is cbindgen's, less the `extern` declarations of foreign functions that
# cbindgen copies from the crate's `extern "C" { }` blocks.
#
# Until every function of src/capi.rs carries its `/// cbindgen:prefix=...` and
# `/// cbindgen:postfix=...` annotations (the attribute macros of mimalloc 2.1.7), the
# check compares the declarations without the attribute macros: names, return types
# and parameter types must agree exactly, and the rest of the header must be the text
# of cbindgen.toml. Once the annotations are there, the comparison is byte for byte.
set -eu

CBINDGEN_VERSION=0.29.4
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-write}

find_cbindgen() {
  if command -v cbindgen >/dev/null 2>&1; then
    command -v cbindgen
  elif [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cbindgen" ]; then
    echo "${CARGO_HOME:-$HOME/.cargo}/bin/cbindgen"
  fi
}

cbindgen=$(find_cbindgen)
if [ -z "$cbindgen" ] && [ "${MI_INSTALL_CBINDGEN:-0}" = 1 ]; then
  echo "gen-header: installing cbindgen $CBINDGEN_VERSION (cargo install)" >&2
  cargo install cbindgen --locked --version "$CBINDGEN_VERSION" >&2
  cbindgen=$(find_cbindgen)
fi
if [ -z "$cbindgen" ]; then
  echo "gen-header: cbindgen is not installed (cargo install cbindgen --locked --version $CBINDGEN_VERSION): skipped" >&2
  exit 77
fi
have_version=$("$cbindgen" --version | awk '{print $2}')
if [ "$have_version" != "$CBINDGEN_VERSION" ]; then
  echo "gen-header: note: cbindgen $have_version; the header is made with $CBINDGEN_VERSION (formatting may differ)" >&2
fi

tmp=${MI_GEN_HEADER_TMP:-}
if [ -z "$tmp" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
else
  rm -rf "$tmp" && mkdir -p "$tmp"
fi

if ! "$cbindgen" --config cbindgen.toml --crate mimalloc-rs --output "$tmp/cbindgen.h" 2>"$tmp/cbindgen.log"; then
  cat "$tmp/cbindgen.log" >&2
  echo "gen-header: cbindgen failed" >&2
  exit 1
fi
# cbindgen also declares the foreign functions the Rust code calls (`extern "C" { fn ... }`
# blocks: sanitizer hooks, libc globals, ...) as `extern ...;`: they are not mimalloc's API.
awk '
  skip_blank && /^$/ { skip_blank = 0; next }
  { skip_blank = 0 }
  /^extern [^"]/ { skip_blank = 1; next }
  { print }
' "$tmp/cbindgen.h" > "$tmp/mimalloc.h"

if [ "$mode" = "write" ]; then
  cp "$tmp/mimalloc.h" include/mimalloc.h
  echo "gen-header: wrote include/mimalloc.h"
  exit 0
fi
if [ "$mode" != "--check" ]; then
  echo "usage: bin/gen-header.sh [--check]" >&2
  exit 2
fi

if cmp -s "$tmp/mimalloc.h" include/mimalloc.h; then
  echo "gen-header: include/mimalloc.h is exactly what cbindgen generates from src/capi.rs"
  exit 0
fi

if grep -q 'cbindgen:prefix=' src/capi.rs; then
  echo "gen-header: include/mimalloc.h differs from what cbindgen generates (run bin/gen-header.sh):" >&2
  diff -u include/mimalloc.h "$tmp/mimalloc.h" >&2 || true
  exit 1
fi

# src/capi.rs has no attribute annotations yet: compare without the attribute macros.
normalize() {
  sed -E -e 's/\bmi_decl_[a-z_]+\b//g' \
         -e 's/\bmi_attr_(alloc_size2?|alloc_align)\([^)]*\)//g' \
         -e 's/\bmi_attr_[a-z_]+\b//g' \
         -e 's/[[:space:]]+/ /g' -e 's/^ //' -e 's/ ;$/;/' -e 's/ $//' "$1"
}
normalize include/mimalloc.h > "$tmp/committed.txt"
normalize "$tmp/mimalloc.h" > "$tmp/generated.txt"
if cmp -s "$tmp/committed.txt" "$tmp/generated.txt"; then
  echo "gen-header: the declarations of include/mimalloc.h agree with src/capi.rs (names and types;"
  echo "gen-header: attribute macros not compared until src/capi.rs has its cbindgen:prefix/postfix annotations)"
  exit 0
fi
echo "gen-header: include/mimalloc.h does not agree with src/capi.rs (attribute macros ignored):" >&2
diff -u "$tmp/committed.txt" "$tmp/generated.txt" >&2 || true
exit 1
