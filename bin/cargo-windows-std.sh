#!/bin/sh
# cargo-windows-std.sh -- build a Rust program for x86_64-pc-windows-gnu, with Rust's
# std compiled from source (-Zbuild-std=std,panic_abort), offline from the crates
# vendored beside the library sources. rustup cannot fetch that target's std here;
# Debian's rustc-web, cargo-web and rust-web-src can build it. Used by the Windows test
# scripts (bin/test-windows.sh, bin/test-minject.sh).
#
#   bin/cargo-windows-std.sh <Cargo.toml> <target-dir>
#
# The crate must be a workspace of its own: the project's Cargo.lock names crates that
# the vendored set lacks. The program lands in
# <target-dir>/x86_64-pc-windows-gnu/release/. Exits 3, saying why on stdout, when the
# toolchain or the library sources are missing. MI_WIN_RUSTC/MI_WIN_CARGO choose
# another rustc/cargo (default /usr/bin's, which match rust-web-src).
set -eu
manifest=$1
target_dir=$2
rustc=${MI_WIN_RUSTC:-/usr/bin/rustc}
cargo=${MI_WIN_CARGO:-/usr/bin/cargo}
if [ ! -x "$rustc" ] || [ ! -x "$cargo" ]; then
  echo "no $rustc or $cargo (Debian: rustc-web, cargo-web)"; exit 3
fi
library="$("$rustc" --print sysroot)/lib/rustlib/src/rust/library"
if [ ! -d "$library/std" ] || [ ! -d "$library/vendor" ]; then
  echo "no library sources with vendored crates at $library (Debian: rust-web-src)"; exit 3
fi
mkdir -p "$target_dir"
exec env RUSTC_BOOTSTRAP=1 RUSTC="$rustc" CARGO_HOME="$target_dir/cargo-home" \
  "$cargo" build --release --offline --quiet \
  --manifest-path "$manifest" \
  --target x86_64-pc-windows-gnu -Zbuild-std=std,panic_abort \
  --target-dir "$target_dir" \
  --config 'source.crates-io.replace-with="vendored"' \
  --config "source.vendored.directory=\"$library/vendor\"" \
  --config 'target.x86_64-pc-windows-gnu.linker="x86_64-w64-mingw32-gcc"'
