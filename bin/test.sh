#!/bin/sh
# test.sh -- the whole test suite: the README's test command (and what CI runs).
#
#   0. bin/check-layers.py: the layer table of src/lib.rs against the imports;
#   1. cargo test: the unit, integration and doc tests of the workspace, then of the core
#      in the secure (level 4) configuration; the fault-injection tests in the release,
#      secure and debug configurations and the regression tests in the debug one; the
#      loom models and a bounded run of the API fuzzer per build (doc/verification.md);
#      bin/test-crate.sh (cargo doc, cargo package, a Rust program built on the packaged
#      crate with CC=false); then cargo clippy (warnings are errors) on the core in
#      several configurations, when clippy is installed;
#   2. for each build variant: configure and build with CMake in out/test/<variant>,
#      then ctest (the C/C++ tests against the shared library, the static library and
#      mimalloc.o, the exported symbols, an install into a temporary prefix with the
#      find_package and pkg-config downstream builds, DESTDIR and uninstall, and the
#      cbindgen check of mimalloc.h).
#
# Environment:
#   MI_TEST_VARIANTS  variants to build and test (default "release debug secure secure-debug secure1 secure3
#                     asan valgrind"); known:
#                     release, debug, secure, secure-debug, secure1, secure2, secure3
#                     (the lower secure levels), valgrind, asan, padding,
#                     nooverride-toplevel, xmalloc, skip-collect, no-thp, local-tls,
#                     static-only
#   MI_JOBS           parallel jobs for cargo, make and ctest (default 2)
#   MI_SKIP_CARGO     set to 1 to skip step 1
#   MI_SKIP_LOOM      set to 1 to skip the loom models in step 1
#   MI_SKIP_FUZZ      set to 1 to skip the fuzzer runs in step 1
#   MI_FUZZ_SECONDS   how long the fuzzer runs per build (default 35)
#   MI_INSTALL_CBINDGEN=1  install cbindgen for the header check when missing (CI)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${MI_JOBS:-2}
variants=${MI_TEST_VARIANTS:-release debug secure secure-debug secure1 secure3 asan valgrind}
export CARGO_BUILD_JOBS="$jobs"

echo "==> layers (bin/check-layers.py: the table in src/lib.rs against the imports)"
python3 bin/check-layers.py

if [ "${MI_SKIP_CARGO:-0}" != 1 ]; then
  echo "==> cargo test --workspace"
  # the whole workspace: the core's tests with mimalloc-c's features unified in (c_shim:
  # the C++ `new` wrappers come from the C shim), the Rust API's collection tests and
  # doctests, the examples
  cargo test --workspace --features mimalloc-rs/capi,mimalloc-rs/allocator-api2 --locked
  echo "==> cargo test (secure)"
  cargo test -p mimalloc-rs --features capi,secure --locked
  # fault injection (a test-only feature, doc/verification.md) in the release, secure
  # and debug configurations; the debug run also has the regression tests, whose
  # huge-free test is about the debug build's freed-block fill
  echo "==> cargo test (fault injection)"
  cargo test -p mimalloc-rs --features capi,fault_injection --locked --test fault
  echo "==> cargo test (fault injection, secure)"
  cargo test -p mimalloc-rs --features capi,secure,fault_injection --locked --test fault
  echo "==> cargo test (fault injection and regressions, debug)"
  cargo test -p mimalloc-rs --features capi,debug,fault_injection --locked \
    --test fault --test regressions
  if [ "${MI_SKIP_LOOM:-0}" != 1 ]; then
    echo "==> loom models (doc/verification.md)"
    # a target directory of their own: --cfg loom rebuilds everything
    RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$root/target/loom" \
      cargo test -p mimalloc-rs --lib --locked models:: -- --nocapture
  fi
  if [ "${MI_SKIP_FUZZ:-0}" != 1 ]; then
    # the API fuzzer (fuzz/run.sh, doc/verification.md), a bounded run per build
    for build in release secure debug; do
      fuzz/run.sh "$build" "${MI_FUZZ_SECONDS:-35}"
    done
  fi
  echo "==> the crate as a Rust user gets it (docs, package, a program built with CC=false)"
  bin/test-crate.sh
  if cargo clippy --version >/dev/null 2>&1; then
    # lints as errors (e.g. a safe function dereferencing a raw pointer argument)
    for features in capi,allocator-api2 capi,secure capi,debug_full,track_valgrind capi,override,track_asan \
                    capi,fault_injection; do
      echo "==> cargo clippy --features $features"
      cargo clippy -p mimalloc-rs --features "$features" --tests --locked -- -D warnings
    done
    echo "==> cargo clippy -p minject"
    cargo clippy -p minject --all-targets --locked -- -D warnings
  fi
fi

options_of() {
  case "$1" in
    release)             echo "-DCMAKE_BUILD_TYPE=Release" ;;
    debug)               echo "-DCMAKE_BUILD_TYPE=Debug" ;;
    secure)              echo "-DCMAKE_BUILD_TYPE=Release -DMI_SECURE=ON" ;;
    secure-debug)        echo "-DCMAKE_BUILD_TYPE=Debug -DMI_SECURE=ON" ;;
    secure1|secure2|secure3)
                         echo "-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-DMI_SECURE=${1#secure}" ;;
    valgrind)            echo "-DCMAKE_BUILD_TYPE=Release -DMI_TRACK_VALGRIND=ON" ;;
    asan)                echo "-DCMAKE_BUILD_TYPE=Release -DMI_TRACK_ASAN=ON" ;;
    padding)             echo "-DCMAKE_BUILD_TYPE=Release -DMI_PADDING=ON" ;;
    nooverride-toplevel) echo "-DCMAKE_BUILD_TYPE=Release -DMI_OVERRIDE=OFF -DMI_INSTALL_TOPLEVEL=ON" ;;
    xmalloc)             echo "-DCMAKE_BUILD_TYPE=Release -DMI_XMALLOC=ON -DMI_SHOW_ERRORS=ON" ;;
    skip-collect)        echo "-DCMAKE_BUILD_TYPE=Release -DMI_SKIP_COLLECT_ON_EXIT=ON" ;;
    no-thp)              echo "-DCMAKE_BUILD_TYPE=Release -DMI_NO_THP=ON" ;;
    local-tls)           echo "-DCMAKE_BUILD_TYPE=Release -DMI_LOCAL_DYNAMIC_TLS=ON" ;;
    static-only)         echo "-DCMAKE_BUILD_TYPE=Release -DMI_BUILD_SHARED=OFF" ;;
    *) echo "test.sh: unknown variant $1" >&2; return 1 ;;
  esac
}

# the header check (ctest header-cbindgen) needs cbindgen; CI installs it here, once
if [ "${MI_INSTALL_CBINDGEN:-0}" = 1 ] && ! command -v cbindgen >/dev/null 2>&1 \
   && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cbindgen" ]; then
  echo "==> cargo install cbindgen"
  cargo install cbindgen --locked --version 0.29.4
fi

for variant in $variants; do
  opts=$(options_of "$variant")
  build="out/test/$variant"
  echo "==> $variant: cmake $opts"
  # shellcheck disable=SC2086
  cmake -S . -B "$build" $opts -DMI_CARGO_JOBS="$jobs"
  cmake --build "$build" -j "$jobs"
  echo "==> $variant: ctest"
  ctest --test-dir "$build" -j "$jobs" --output-on-failure --timeout 1500
done
echo "==> all tests passed (variants: $variants)"
