#!/bin/sh
# run.sh -- build the API fuzzer for one build of the allocator and run it for a while.
#
#   fuzz/run.sh BUILD [SECONDS] [libFuzzer options...]
#
# BUILD is release, secure or debug (the allocator's cargo features); SECONDS (default
# 60) bounds the run. The fuzzer starts from the corpus in fuzz/corpus/api and writes
# the inputs it finds into a scratch directory (pass -merge=1 and a directory to keep
# them: see doc/verification.md). Needs only the stable toolchain and a C++ compiler
# (libFuzzer is built from source by the libfuzzer-sys crate): coverage comes from
# LLVM's sanitizer-coverage pass, which stable rustc runs with -C passes/-C llvm-args.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: fuzz/run.sh release|secure|debug [seconds] [libFuzzer options]}
secs=${2:-60}
[ $# -ge 2 ] && shift 2 || shift $#
case "$build" in
  release) features="" ;;
  secure)  features="--features secure" ;;
  debug)   features="--features debug" ;;
  *) echo "run.sh: unknown build $build" >&2; exit 2 ;;
esac
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
RUSTFLAGS="$RUSTFLAGS -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
RUSTFLAGS="$RUSTFLAGS -Cllvm-args=-sanitizer-coverage-pc-table"
RUSTFLAGS="$RUSTFLAGS -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
export RUSTFLAGS
target="$root/fuzz/target/build-$build"
# an explicit --target keeps RUSTFLAGS (the instrumentation) off the build scripts
host=$(rustc -vV | sed -n 's/^host: //p')
echo "==> fuzz ($build): build"
# shellcheck disable=SC2086
CARGO_TARGET_DIR="$target" cargo build --manifest-path "$root/fuzz/Cargo.toml" \
  --release --locked --bin api --target "$host" $features
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
echo "==> fuzz ($build): $secs s from fuzz/corpus/api"
mkdir -p "$root/fuzz/artifacts/$build"
"$target/$host/release/api" -max_total_time="$secs" -rss_limit_mb=4096 -max_len=2048 \
  -timeout=60 -print_final_stats=1 -artifact_prefix="$root/fuzz/artifacts/$build/" \
  "$@" "$scratch" "$root/fuzz/corpus/api" 2>"$scratch.log" || {
  status=$?
  tail -n 60 "$scratch.log" >&2
  rm -f "$scratch.log"
  echo "==> fuzz ($build): FAILED (the input is in fuzz/artifacts/$build/)" >&2
  exit $status
}
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch.log")
cov=$(grep -o 'cov: [0-9]*' "$scratch.log" | tail -n 1)
rm -f "$scratch.log"
echo "==> fuzz ($build): $runs executions in $secs s, $cov, no failure"
