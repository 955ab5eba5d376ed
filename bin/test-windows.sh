#!/bin/sh
# test-windows.sh -- the Windows build, cross-built on Linux and tested under wine.
#
#   1. installs what is missing (Debian/Ubuntu, with apt-get as root or through sudo):
#      the mingw-w64 C/C++ cross compilers, wine64, and Rust's library sources with a
#      matching rustc/cargo (rust-web-src, rustc-web, cargo-web: `core` is built for
#      x86_64-pc-windows-gnu with -Zbuild-std, offline from the crates they vendor);
#      when they cannot be installed, the whole step is skipped with a "skipped: ..."
#      message (exit 0);
#   2. configures and builds with the cross toolchain file in out/test/windows-release:
#        cmake -S . -B out/test/windows-release -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
#        cmake --build out/test/windows-release
#      (mimalloc.dll, mimalloc-override.dll, their import libraries, the test programs);
#   3. runs ctest under wine (test/windows/CMakeLists.txt lists the tests: mimalloc's API
#      and stress tests against mimalloc.dll, the CRT redirect of mimalloc-override.dll),
#      and installs into a temporary prefix (exactly the DLLs, import libraries, headers);
#   4. when the workspace has the `minject` crate: `cargo run -p minject` on the
#      unmodified test-redirect-plain.exe; the patched copy must import
#      mimalloc-override.dll first (objdump -p), leave the input untouched, and run
#      redirected under wine;
#   5. builds test/windows/rust (mimalloc as a Rust program's global allocator) for
#      x86_64-pc-windows-gnu and runs it under wine, with MIMALLOC_VERBOSE and
#      MIMALLOC_SHOW_STATS to see the library constructor and exit handler run.
#
# Environment: MI_JOBS (default 2); MI_WINDOWS_VARIANTS, the builds to make and test in
# out/test/windows-<variant> (default "release"; known: release debug secure; about two
# minutes each here). minject is tried on the release build's test program.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${MI_JOBS:-2}
variants=${MI_WINDOWS_VARIANTS:-release}

skip() {
  echo "test-windows: skipped: $*"
  exit 0
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}

find_wine() {
  for w in "${MI_WINE:-}" /usr/lib/wine/wine64 "$(command -v wine64 2>/dev/null || true)" \
           "$(command -v wine 2>/dev/null || true)"; do
    if [ -n "$w" ] && [ -x "$w" ]; then echo "$w"; return 0; fi
  done
  return 1
}

have_rust_src() {
  # a rustc whose sysroot has the library sources (or the Windows target's std)
  for rc in /usr/bin/rustc "$(command -v rustc 2>/dev/null || true)"; do
    [ -n "$rc" ] && [ -x "$rc" ] || continue
    sysroot=$("$rc" --print sysroot 2>/dev/null) || continue
    [ -f "$sysroot/lib/rustlib/src/rust/library/core/Cargo.toml" ] && return 0
    [ -d "$sysroot/lib/rustlib/x86_64-pc-windows-gnu/lib" ] && return 0
  done
  return 1
}

missing=""
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing="$missing gcc-mingw-w64-x86-64"
command -v x86_64-w64-mingw32-g++ >/dev/null 2>&1 || missing="$missing g++-mingw-w64-x86-64"
find_wine >/dev/null || missing="$missing wine64"
have_rust_src || missing="$missing rust-web-src rustc-web cargo-web"
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
if [ -n "$missing" ]; then
  echo "test-windows: installing$missing"
  command -v apt-get >/dev/null 2>&1 || skip "no apt-get to install$missing"
  as_root apt-get update -qq || skip "cannot run apt-get update (not root and no sudo?) to install$missing"
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
    || skip "cannot install$missing"
fi
wine=$(find_wine) || skip "wine is not available"
have_rust_src || skip "no Rust library sources for -Zbuild-std (rust-web-src) and no x86_64-pc-windows-gnu std"

# the distribution's cargo/rustc (they match rust-web-src) when there, else PATH's
cargo_args=""
if [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ]; then
  cargo_args="-DMI_CARGO_EXECUTABLE=/usr/bin/cargo -DMI_RUSTC_EXECUTABLE=/usr/bin/rustc"
fi

export WINEDEBUG=-all
WINEPREFIX=$(mktemp -d "${TMPDIR:-/tmp}/mimalloc-wine.XXXXXX")
export WINEPREFIX
work=$(mktemp -d "${TMPDIR:-/tmp}/mimalloc-win.XXXXXX")
cleanup() {
  # (wineserver keeps running for a few seconds after the last program: stop ours)
  WINEPREFIX="$WINEPREFIX" "$(dirname "$wine")/wineserver" -k 2>/dev/null || true
  rm -rf "$WINEPREFIX" "$work"
}
trap cleanup EXIT

# variant -> build directory and CMake options
variant_args() {
  case "$1" in
    release) echo "-DCMAKE_BUILD_TYPE=Release" ;;
    debug)   echo "-DCMAKE_BUILD_TYPE=Debug" ;;
    secure)  echo "-DCMAKE_BUILD_TYPE=Release -DMI_SECURE=ON" ;;
    *) echo "test-windows: unknown variant $1 (known: release debug secure)" >&2; return 1 ;;
  esac
}

for variant in $variants; do
  args=$(variant_args "$variant")
  build="$root/out/test/windows-$variant"
  echo "==> $variant: configure (cmake/mingw-w64-x86_64.cmake; wine: $wine)"
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake $args \
    -DMI_WINE_EXECUTABLE="$wine" -DMI_CARGO_JOBS="$jobs" $cargo_args >"$work/configure.log" 2>&1 \
    || { cat "$work/configure.log"; exit 1; }
  grep -E "Rust for|Windows DLLs" "$work/configure.log" || true

  echo "==> $variant: build"
  cmake --build "$build" -j "$jobs"
  suffix=$(sed -n 's/^-- Library base name: mimalloc//p' "$work/configure.log")
  for f in "mimalloc$suffix.dll" "libmimalloc$suffix.dll.a" "mimalloc-override$suffix.dll" \
           "libmimalloc-override$suffix.dll.a"; do
    [ -f "$build/$f" ] || { echo "test-windows: $f was not built"; exit 1; }
  done

  echo "==> $variant: ctest under wine"
  (cd "$build" && ctest --output-on-failure -j 1)

  echo "==> $variant: install"
  prefix="$work/prefix-$variant"
  cmake --install "$build" --prefix "$prefix" >/dev/null
  (cd "$prefix" && find . -type f | sort) >"$work/installed.txt"
  printf '%s\n' "./bin/mimalloc$suffix.dll" "./bin/mimalloc-override$suffix.dll" \
    ./include/mimalloc-new-delete.h ./include/mimalloc-override.h ./include/mimalloc.h \
    "./lib/libmimalloc$suffix.dll.a" "./lib/libmimalloc-override$suffix.dll.a" \
    | sort >"$work/expected.txt"
  diff -u "$work/expected.txt" "$work/installed.txt" \
    || { echo "test-windows: the install holds other files than expected"; exit 1; }
done
build="$root/out/test/windows-release"

if [ -f "$root/minject/Cargo.toml" ] && [ -f "$build/test-redirect-plain.exe" ]; then
  echo "==> minject on an unmodified executable"
  cp "$build/test-redirect-plain.exe" "$build/mimalloc-override.dll" "$work/"
  before=$(sha256sum "$work/test-redirect-plain.exe")
  cargo run -q -p minject --locked -- --force "$work/test-redirect-plain.exe"
  [ -f "$work/test-redirect-plain-mi.exe" ] || { echo "test-windows: minject wrote no test-redirect-plain-mi.exe"; exit 1; }
  [ "$(sha256sum "$work/test-redirect-plain.exe")" = "$before" ] \
    || { echo "test-windows: minject changed its input without --inplace"; exit 1; }
  cargo run -q -p minject --locked -- --list "$work/test-redirect-plain-mi.exe"
  cmake -DOBJDUMP=x86_64-w64-mingw32-objdump -DEXE="$work/test-redirect-plain-mi.exe" \
    -DFIRST=mimalloc-override.dll -P "$root/test/windows/check-imports.cmake"
  (cd "$work" && "$wine" test-redirect-plain-mi.exe expect-redirect)
  # the unmodified one still runs on the C runtime's allocator
  (cd "$work" && "$wine" test-redirect-plain.exe expect-crt)
else
  echo "==> minject: skipped (no minject/ crate in this tree, or no release variant built)"
fi
# --- the Rust API on Windows ------------------------------------------------------------
# test/windows/rust: a std program with mimalloc as its global allocator (threads that
# exit, a heap of its own), built for x86_64-pc-windows-gnu by bin/cargo-windows-std.sh
# and run under wine.
# It must also run the library constructor (`.CRT$XCU`): MIMALLOC_VERBOSE=1 lists the
# options, and MIMALLOC_SHOW_STATS=1 prints the statistics at exit.
status=0
"$root/bin/cargo-windows-std.sh" "$root/test/windows/rust/Cargo.toml" \
  "$root/out/test/windows-rust" >"$work/rust-build.log" 2>&1 || status=$?
if [ "$status" = 3 ]; then
  echo "==> the Rust API on Windows: skipped ($(cat "$work/rust-build.log"))"
elif [ "$status" != 0 ]; then
  cat "$work/rust-build.log"; echo "test-windows: building test/windows/rust failed"; exit 1
else
  echo "==> the Rust API on Windows (test/windows/rust, -Zbuild-std=std)"
  exe=mimalloc-windows-rust-test.exe
  cp "$root/out/test/windows-rust/x86_64-pc-windows-gnu/release/$exe" "$work/"
  # Wine 8 has no bcryptprimitives.dll, whose ProcessPrng Rust's std calls: a stand-in
  # beside the program (test/windows/bcryptprimitives.c).
  if [ ! -e "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
    x86_64-w64-mingw32-gcc -O1 -shared -o "$work/bcryptprimitives.dll" "$root/test/windows/bcryptprimitives.c" -ladvapi32
  fi
  out=$(cd "$work" && "$wine" "$exe" 2>&1) || { echo "$out"; echo "test-windows: $exe failed"; exit 1; }
  echo "$out"
  echo "$out" | grep -q "^rust-on-windows: ok" || { echo "test-windows: $exe printed no ok"; exit 1; }
  out=$(cd "$work" && MIMALLOC_VERBOSE=1 "$wine" "$exe" 2>&1) || { echo "$out"; exit 1; }
  echo "$out" | grep -q "^mimalloc: option 'verbose': 1" \
    || { echo "$out" | head; echo "test-windows: no option list with MIMALLOC_VERBOSE=1 (constructor not run?)"; exit 1; }
  out=$(cd "$work" && MIMALLOC_SHOW_STATS=1 "$wine" "$exe" 2>&1) || { echo "$out"; exit 1; }
  echo "$out" | grep -Eq "^ *threads: .* ok *$" \
    || { echo "$out" | tail; echo "test-windows: no statistics at exit with MIMALLOC_SHOW_STATS=1"; exit 1; }
fi
echo "test-windows: all passed"
